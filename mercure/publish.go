package mercure

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// publish accepts a form-encoded update and answers with its id.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The body must arrive in time, whether this handler reads it or
	// net/http drains it after an early answer: a client sending it a byte
	// at a time holds nothing for long.
	_ = http.NewResponseController(w).SetReadDeadline(start.Add(h.cfg.BodyTimeout))
	if h.publishGeneration(w, r, start) {
		return // draft 08 (publish08.go), or a generation the hub does not serve
	}
	claims := h.publisher(w, r)
	if claims == nil {
		return
	}
	form, ok := h.publishForm(w, r)
	if !ok {
		return
	}
	u, err := h.parseUpdate(&form)
	if err != nil {
		h.cfg.Metrics.PublishError("invalid")
		httpError(w, http.StatusBadRequest, "%s", reason(err))
		return
	}
	if rf := h.checkUpdate(r, claims, &u, false); rf != nil {
		h.refuse(w, rf, 0)
		return
	}
	stored, err := h.cfg.Hub.Publish(r.Context(), u)
	if err != nil {
		h.publishFailed(w, err, 0, u.ID)
		return
	}
	h.observePublish(start)
	// Shared header values (net/http reads them, and copies the map before
	// changing it); an explicit length spares net/http from computing it.
	hdr := w.Header()
	hdr["Content-Type"] = textPlain
	hdr["Cache-Control"] = noStore
	hdr["Content-Length"] = contentLength(len(stored.ID))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, stored.ID)
}

// publisher checks the credential of a publish request (form or batch): a
// token whose claims may publish, sent in a cookie only from an allowed
// origin. When it is refused, publisher answers the request and returns
// nil.
func (h *Handler) publisher(w http.ResponseWriter, r *http.Request) *auth.Claims {
	claims, from, err := h.token(r, h.cfg.Publishers, "publisher")
	if err != nil {
		h.cfg.Metrics.PublishError("unauthorized")
		httpError(w, http.StatusUnauthorized, "invalid publisher token: %v", err)
		return nil
	}
	if claims == nil {
		h.cfg.Metrics.AuthFailure("missing")
		h.cfg.Metrics.PublishError("unauthorized")
		h.challenge07(w, r)
		httpError(w, http.StatusUnauthorized, "publishing requires a token with a mercure.publish claim (Authorization: Bearer <JWT>)")
		return nil
	}
	if from == auth.SourceCookie && !h.originAllowed(r) {
		h.cfg.Metrics.AuthFailure("forbidden")
		h.cfg.Metrics.PublishError("forbidden")
		httpError(w, http.StatusForbidden, "%v", errForbiddenOrigin)
		return nil
	}
	return claims
}

// publishForm reads a publish request's form body (publish in both
// generations); it answers a wrong Content-Type (415) or a body that could
// not be read (see bodyError) itself and then reports false.
func (h *Handler) publishForm(w http.ResponseWriter, r *http.Request) (publishForm, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isFormMediaType(ct) {
		h.cfg.Metrics.PublishError("invalid")
		httpError(w, http.StatusUnsupportedMediaType, "publish with Content-Type: application/x-www-form-urlencoded, not %q", ct)
		return publishForm{}, false
	}
	form, err := h.readPublishForm(w, r)
	if err != nil {
		h.bodyError(w, err, "the limit on a form-encoded body", h.cfg.MaxBodyBytes, "malformed form body: ")
		return publishForm{}, false
	}
	return form, true
}

// bodyError answers a request whose body could not be read: over its
// limit (what names it), too slow, or malformed (the message then follows
// malformed).
func (h *Handler) bodyError(w http.ResponseWriter, err error, what string, limit int64, malformed string) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		h.cfg.Metrics.PublishError("too_large")
		httpError(w, http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes, %s", limit, what)
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		h.cfg.Metrics.PublishError("timeout")
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusRequestTimeout, "the request body did not arrive within %s", h.cfg.BodyTimeout)
		return
	}
	h.cfg.Metrics.PublishError("invalid")
	httpError(w, http.StatusBadRequest, "%s%v", malformed, err)
}

// refusal says why an update may not be published: the status, the reason
// counted among publish errors, and the message.
type refusal struct {
	status  int
	reason  string
	auth    bool // also counted as an authorization failure
	message string
}

// checkUpdate applies to a valid update the rules of publishing beyond its
// own validity: the limit on its data, the hub's reserved topics, and the
// token's mercure.publish claim. It returns nil when u may be published.
func (h *Handler) checkUpdate(r *http.Request, claims *auth.Claims, u *herald.Update, is08 bool) *refusal {
	if len(u.Data) > h.cfg.MaxDataBytes {
		return &refusal{http.StatusRequestEntityTooLarge, "too_large", false,
			fmt.Sprintf("the data is %d bytes long, over the data limit of %d bytes", len(u.Data), h.cfg.MaxDataBytes)}
	}
	for _, t := range u.Topics {
		if h.reserved(r, t) {
			return &refusal{http.StatusForbidden, "forbidden", false,
				fmt.Sprintf("topic %q is reserved for events the hub publishes itself", t)}
		}
	}
	if u.Type == subscriptionEventType {
		return &refusal{http.StatusBadRequest, "invalid", false,
			fmt.Sprintf("type %q is reserved for the hub's subscription events (draft 08), which subscribers trust to come from the hub", u.Type)}
	}
	if !claims.CanPublish(u.Topics) {
		why := "the token's mercure.publish claim does not allow"
		if is08 {
			why = "the token's Mercure authorization details do not allow"
		}
		return &refusal{http.StatusForbidden, "forbidden", true, why + " publishing to " + quoteList(u.Topics)}
	}
	return nil
}

// refuse answers with rf, naming line (from 1) of a batch when it is not
// zero.
func (h *Handler) refuse(w http.ResponseWriter, rf *refusal, line int) {
	if rf.auth {
		h.cfg.Metrics.AuthFailure("forbidden")
	}
	h.cfg.Metrics.PublishError(rf.reason)
	if line == 0 {
		httpError(w, rf.status, "%s", rf.message)
		return
	}
	w.Header().Set(BatchLineHeader, strconv.Itoa(line))
	httpError(w, rf.status, "line %d: %s", line, rf.message)
}

// publishFailed answers a publish the hub refused or could not store: err
// is the hub's, id the update's (line is that of a batch, or 0).
func (h *Handler) publishFailed(w http.ResponseWriter, err error, line int, id string) {
	status := StatusCode(err)
	if status >= 500 {
		h.cfg.Logger.Warn("publish failed", "status", status, "err", err)
	}
	msg := fmt.Sprintf("publish failed: %v", err)
	if status == http.StatusConflict {
		msg = fmt.Sprintf("the id %q is already held in history by another update; give each update its own id (or none)", id)
	}
	h.refuse(w, &refusal{status: status, reason: reasonOf(status), message: msg}, line)
}

// observePublish records the time a publish took, when the metrics take it.
func (h *Handler) observePublish(start time.Time) {
	if m, ok := h.cfg.Metrics.(interface{ ObservePublish(time.Duration) }); ok {
		m.ObservePublish(time.Since(start))
	}
}

// Response header values shared by every publish: one-element slices whose
// capacity is their length, so that an Add by a wrapping handler copies them.
var (
	textPlain      = []string{"text/plain; charset=utf-8"}
	noStore        = []string{"no-store"}
	contentLengths = func() [][]string {
		vs := make([]string, herald.MaxIDLength+1)
		cls := make([][]string, len(vs))
		for n := range vs {
			vs[n] = strconv.Itoa(n)
			cls[n] = vs[n : n+1 : n+1]
		}
		return cls
	}()
)

// contentLength is the Content-Length header value for n bytes.
func contentLength(n int) []string {
	if n < len(contentLengths) {
		return contentLengths[n]
	}
	return []string{strconv.Itoa(n)}
}

// parseUpdate reads the update fields of a publish form.
func (h *Handler) parseUpdate(f *publishForm) (herald.Update, error) {
	var u herald.Update
	u.Topics = f.topics
	if f.nTopics == 0 {
		return u, invalid(`missing "topic" field`)
	}
	if f.nTopics > h.cfg.MaxTopics {
		return u, invalid("too many topics: %d, the limit is %d", f.nTopics, h.cfg.MaxTopics)
	}
	for k, name := range fieldNames {
		if f.n[k] > 1 {
			return u, invalid("field %q is given %d times; give it at most once", name, f.n[k])
		}
	}
	u.Data = f.vals[fieldData]
	u.ID = f.vals[fieldID]
	u.Type = f.vals[fieldType]
	if f.n[fieldPrivate] > 0 {
		switch strings.ToLower(f.vals[fieldPrivate]) {
		case "false", "off", "0":
		default:
			u.Private = true
		}
	}
	if s := f.vals[fieldRetry]; s != "" {
		ms, err := strconv.ParseUint(s, 10, 32)
		if err != nil || strings.TrimLeft(s, "0123456789") != "" {
			return u, invalid("retry must be a whole number of milliseconds, not %q", s)
		}
		u.Retry = time.Duration(ms) * time.Millisecond
	}
	return u, u.Validate()
}

func reasonOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusConflict:
		return "conflict"
	}
	return "internal"
}
