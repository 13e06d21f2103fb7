package mercure

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/topic"
)

// publishGeneration serves a publish request of draft 08, or of a
// generation the hub does not serve, and reports whether it did; a draft-07
// request is left to publish. The generation is the token's: an access token
// (typ at+jwt) in the Authorization header, or the draft-08 cookie, make a
// draft-08 request.
func (h *Handler) publishGeneration(w http.ResponseWriter, r *http.Request, start time.Time) bool {
	switch {
	case h.draft08Publish(r) && h.cfg.Protocol.serves08():
		h.publish08(w, r, start)
	case h.draft08Publish(r):
		h.cfg.Metrics.PublishError("unauthorized")
		h.refuseGeneration(w, true)
	case h.cfg.Protocol.serves07():
		return false
	default:
		// A hub that speaks only draft 08: a request without an access
		// token is told how to get one.
		h.cfg.Metrics.PublishError("unauthorized")
		if tok, _ := auth.TokenFromRequest(r); tok != "" {
			h.refuseGeneration(w, false)
			return true
		}
		h.cfg.Metrics.AuthFailure("missing")
		h.refuse08(w, r, noTokenError{"publishing requires an access token (Authorization: Bearer <token>) granting publish on every topic of the update"})
	}
	return true
}

// publish08 accepts a draft-08 update (draft-dunglas-mercure-08,
// "Publication"): the same form as draft 07, read by the same code, with
// draft 08's rules on top: the topic "*" and topics in the hub's reserved
// namespace are refused (400), as are Unicode format characters in topics,
// id and type, the type "mercure", and limits are answered 413; private is
// set by the field's presence, whatever its value; the access token must
// grant publish on every topic (else 403 insufficient_scope); a token sent
// in the cookie publishes only from an allowed origin, and never from a
// request that names no origin (CSRF).
func (h *Handler) publish08(w http.ResponseWriter, r *http.Request, start time.Time) {
	claims := h.publisher08(w, r)
	if claims == nil {
		return
	}
	form, ok := h.publishForm(w, r)
	if !ok {
		return
	}
	if form.nTopics > h.cfg.MaxTopics {
		h.cfg.Metrics.PublishError("too_large")
		httpError(w, http.StatusRequestEntityTooLarge, "too many topics: %d, the limit is %d", form.nTopics, h.cfg.MaxTopics)
		return
	}
	if err := tooLong08(&form); err != nil {
		h.cfg.Metrics.PublishError("too_large")
		httpError(w, http.StatusRequestEntityTooLarge, "%s", reason(err))
		return
	}
	u, err := h.parseUpdate(&form)
	if err == nil {
		err = h.check08(r, &u)
	}
	if err != nil {
		h.cfg.Metrics.PublishError("invalid")
		httpError(w, http.StatusBadRequest, "%s", reason(err))
		return
	}
	u.Private = form.n[fieldPrivate] > 0 // draft 08: present means private, whatever its value
	if len(u.Data) > h.cfg.MaxDataBytes {
		h.cfg.Metrics.PublishError("too_large")
		httpError(w, http.StatusRequestEntityTooLarge, "the data is %d bytes long, over the data limit of %d bytes", len(u.Data), h.cfg.MaxDataBytes)
		return
	}
	if !claims.CanPublish(u.Topics) {
		h.cfg.Metrics.AuthFailure("forbidden")
		h.cfg.Metrics.PublishError("forbidden")
		h.refuse08(w, r, fmt.Errorf("%w: the token grants publish on none of its Mercure authorization details' topics for at least one of %s", herald.ErrForbidden, strings.Join(u.Topics, ", ")))
		return
	}
	h.store(w, r, u, start)
}

// publisher08 returns the claims of the draft-08 access token a publish
// request (a form or a batch) presents. It answers and returns nil when the
// request is misdirected (see Config.PublicURLs), has no valid token, or
// has one in the cookie from a page on an origin not allowed to publish
// with it.
func (h *Handler) publisher08(w http.ResponseWriter, r *http.Request) *auth.Claims {
	if h.misdirected(w, r) {
		h.cfg.Metrics.PublishError("invalid")
		return nil
	}
	claims, from, err := h.access(r)
	if err != nil {
		h.cfg.Metrics.PublishError("unauthorized")
		h.refuse08(w, r, err)
		return nil
	}
	if claims == nil {
		h.cfg.Metrics.AuthFailure("missing")
		h.cfg.Metrics.PublishError("unauthorized")
		h.refuse08(w, r, noTokenError{"publishing requires an access token granting publish on every topic of the update"})
		return nil
	}
	if from == auth.SourceCookie && !h.cookieOriginAllowed(r) {
		h.cfg.Metrics.AuthFailure("forbidden")
		h.cfg.Metrics.PublishError("forbidden")
		h.refuse08(w, r, errCookieOrigin)
		return nil
	}
	return claims
}

// store appends u and answers with its id, as a draft-07 publish does.
func (h *Handler) store(w http.ResponseWriter, r *http.Request, u herald.Update, start time.Time) {
	stored, err := h.cfg.Hub.Publish(r.Context(), u)
	if err != nil {
		status := StatusCode(err)
		h.cfg.Metrics.PublishError(reasonOf(status))
		if status >= 500 {
			h.cfg.Logger.Warn("publish failed", "status", status, "err", err)
		}
		if status == http.StatusConflict {
			httpError(w, status, "the id %q is already held in history by another update; give each update its own id (or none)", u.ID)
			return
		}
		httpError(w, status, "publish failed: %v", err)
		return
	}
	if m, ok := h.cfg.Metrics.(interface{ ObservePublish(time.Duration) }); ok {
		m.ObservePublish(time.Since(start))
	}
	hdr := w.Header()
	hdr["Content-Type"] = textPlain
	hdr["Cache-Control"] = noStore
	hdr["Content-Length"] = contentLength(len(stored.ID))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, stored.ID)
}

// tooLong08 reports a topic, id or type over herald's limits: draft 08
// answers limits with 413.
func tooLong08(f *publishForm) error {
	for _, t := range f.topics {
		if len(t) > herald.MaxTopicLength {
			return invalid("a topic is %d bytes long, the limit is %d", len(t), herald.MaxTopicLength)
		}
	}
	if n := len(f.vals[fieldID]); n > herald.MaxIDLength {
		return invalid("id is %d bytes long, the limit is %d", n, herald.MaxIDLength)
	}
	if n := len(f.vals[fieldType]); n > herald.MaxTypeLength {
		return invalid("type is %d bytes long, the limit is %d", n, herald.MaxTypeLength)
	}
	return nil
}

// check08 applies draft 08's rules that draft 07 does not have to an update
// u.Validate accepted. Errors wrap herald.ErrInvalid.
func (h *Handler) check08(r *http.Request, u *herald.Update) error {
	for _, t := range u.Topics {
		if t == topic.All {
			return invalid(`the topic "*" is reserved: it means every topic`)
		}
		if err := noFormatChar("topic", t); err != nil {
			return err
		}
		if h.reserved(r, t) {
			return invalid("topic %q is in the hub's reserved namespace (%s), where only the hub publishes", t, Path)
		}
	}
	if err := noFormatChar("id", u.ID); err != nil {
		return err
	}
	if err := noFormatChar("type", u.Type); err != nil {
		return err
	}
	if u.Type == subscriptionEventType {
		return invalid("type %q is reserved for the hub's subscription events", subscriptionEventType)
	}
	return nil
}

// noFormatChar refuses a control character or a Unicode format (Cf)
// character in the field name of value s (draft 08, "Terminology").
func noFormatChar(name, s string) error {
	for _, c := range s {
		if c < 0x20 || c >= 0x7f && c <= 0x9f {
			return invalid("%s contains control character %U", name, c)
		}
		if unicode.Is(unicode.Cf, c) {
			return invalid("%s contains Unicode format character %U, which draft 08 forbids (invisible, it allows spoofing)", name, c)
		}
	}
	return nil
}

// reserved reports whether topic t is in the hub's reserved namespace, of
// either generation: resolved against the hub's URL as a URL (whatever its
// scheme and host; dot segments removed, percent-encoded unreserved
// characters decoded), its path is the hub's path or below it. A topic that
// is not a URL is not reserved. Publishers of both generations are refused
// such topics: subscribers trust what is published there to come from the
// hub (subscription events).
//
// Every publish asks, so a topic that plainly lies elsewhere is answered
// without parsing it: the resolved path can only reach the hub's path if
// the topic spells its last segment, encodes characters (%), or is a query
// or fragment of the hub's URL itself.
func (h *Handler) reserved(r *http.Request, t string) bool {
	if !strings.ContainsAny(t, "%?#") && !slices.ContainsFunc(h.paths, func(p string) bool {
		return strings.Contains(t, p[strings.LastIndexByte(p, '/')+1:])
	}) {
		return false
	}
	p, ok := topic.URLPath(t, h.resource(r))
	if !ok {
		return false
	}
	p = decodeUnreserved(p)
	for _, hubPath := range h.paths {
		if p == hubPath || strings.HasPrefix(p, hubPath+"/") {
			return true
		}
	}
	return false
}

// hubPaths are the paths of the hub's URL: Path, where it serves, and the
// path of its resource identifier id when that differs (a hub behind a
// proxy that adds a prefix).
func hubPaths(id string) []string {
	paths := []string{Path}
	if u, err := url.Parse(id); err == nil && id != "" {
		if p := strings.TrimSuffix(decodeUnreserved(u.EscapedPath()), "/"); p != "" && p != Path {
			paths = append(paths, p)
		}
	}
	return paths
}

// decodeUnreserved decodes the percent-encoded unreserved characters of a
// URL path (RFC 3986 §2.3: letters, digits, '-', '.', '_', '~'), which
// denote the same path as the characters themselves.
func decodeUnreserved(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && ishex(p[i+1]) && ishex(p[i+2]) {
			c := unhex(p[i+1])<<4 | unhex(p[i+2])
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// errCookieOrigin refuses a cookie publish from an origin that may not use
// it: a 403 whose challenge has no error code (the token is not at fault).
var errCookieOrigin = fmt.Errorf("%w: a token sent in a cookie publishes only from an allowed origin, named by the request's Origin or Referer header", herald.ErrForbidden)

// cookieOriginAllowed is originAllowed for a draft-08 publish with the
// cookie: the request must name its origin (Origin, else Referer), and that
// origin must be allowed (draft 08, "Security Considerations": reject the
// request when neither header is there).
func (h *Handler) cookieOriginAllowed(r *http.Request) bool {
	if r.Header.Get("Origin") == "" && r.Header.Get("Referer") == "" {
		return false
	}
	return h.originAllowed(r)
}
