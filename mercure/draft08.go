package mercure

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/httperr"
	"github.com/herald-sse/herald/topic"
)

// Protocol says which generations of the Mercure protocol a [Handler]
// serves. Whatever it says, the generation of each request is read from the
// request itself (its parameters and its token); a Protocol only refuses
// one of them.
type Protocol uint8

const (
	// ProtocolBoth serves draft 07 and draft 08 (the default).
	ProtocolBoth Protocol = iota
	// ProtocolDraft07 serves draft 07 only: draft-08 requests are refused
	// and no protected resource metadata is published (draft 08 says
	// pre-standard hubs publish none).
	ProtocolDraft07
	// ProtocolDraft08 serves draft 08 only: draft-07 requests are refused.
	ProtocolDraft08
)

// ParseProtocol reads a Protocol: "07", "08" or "both" (also "7" and "8").
// The error wraps [herald.ErrInvalid].
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "both", "":
		return ProtocolBoth, nil
	case "07", "7":
		return ProtocolDraft07, nil
	case "08", "8":
		return ProtocolDraft08, nil
	}
	return 0, fmt.Errorf("%w: protocol %q: use 07, 08 or both", herald.ErrInvalid, s)
}

// String returns "both", "07" or "08".
func (p Protocol) String() string {
	switch p {
	case ProtocolDraft07:
		return "07"
	case ProtocolDraft08:
		return "08"
	}
	return "both"
}

func (p Protocol) serves07() bool { return p != ProtocolDraft08 }
func (p Protocol) serves08() bool { return p != ProtocolDraft07 }

// MetadataPath is where a Handler serves its OAuth 2.0 protected resource
// metadata (RFC 9728 §3.1 for a hub at Path, as draft-08 "Protected
// Resource Metadata" says). Mount the Handler there too.
const MetadataPath = "/.well-known/oauth-protected-resource" + Path

// LastEventIDField is the response header that names, in draft 08, the
// event a stream starts after (draft 07 used Last-Event-ID).
const LastEventIDField = "Mercure-Last-Event-ID"

// subscriptionEventType is the SSE event type of draft-08 subscription
// events, which publishers may not use (of either generation: draft-08
// subscribers trust it).
const subscriptionEventType = "mercure"

// setDraft08Defaults checks and completes the draft-08 fields of cfg.
func setDraft08Defaults(cfg *Config) error {
	if cfg.Protocol > ProtocolDraft08 {
		return fmt.Errorf("mercure: unknown Config.Protocol %d", cfg.Protocol)
	}
	if id := cfg.ResourceIdentifier; id != "" {
		if err := CheckResourceIdentifier(id); err != nil {
			return err
		}
	}
	if len(cfg.PublicURLs) > 0 && cfg.ResourceIdentifier != "" {
		return fmt.Errorf("%w: public URLs apply only to a resource identifier derived from each request; with one configured, there is nothing to choose", herald.ErrInvalid)
	}
	for _, u := range cfg.PublicURLs {
		if err := CheckPublicURL(u); err != nil {
			return err
		}
	}
	if cfg.AccessCookie == "" {
		cfg.AccessCookie = auth.AccessCookieName
	}
	if cfg.Matchers == nil {
		cfg.Matchers = topic.NewMatcherCache(0)
	}
	return nil
}

// CheckResourceIdentifier reports whether id can be a hub's
// Config.ResourceIdentifier: an absolute http(s) URL without query or
// fragment. The error wraps herald.ErrInvalid.
func CheckResourceIdentifier(id string) error {
	u, err := url.Parse(id)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: resource identifier %q: want the hub's absolute http(s) URL, such as https://hub.example.com%s", herald.ErrInvalid, id, Path)
	}
	return nil
}

// CheckPublicURL reports whether u can be one of Config.PublicURLs: an
// http(s) origin, scheme://host[:port], with nothing after it but an
// optional "/". The error wraps herald.ErrInvalid.
func CheckPublicURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || (p.Path != "" && p.Path != "/") || p.RawQuery != "" || p.Fragment != "" || p.User != nil {
		return fmt.Errorf("%w: public URL %q: want an http(s) origin, such as https://hub.example.com", herald.ErrInvalid, u)
	}
	return nil
}

// originKey is the form in which origins are compared: lower case, without
// the scheme's default port.
func originKey(scheme, host string) string {
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil && (scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return scheme + "://" + host
}

// publicOrigins returns the set of cfg.PublicURLs' origins (nil: none).
func publicOrigins(urls []string) map[string]bool {
	if len(urls) == 0 {
		return nil
	}
	m := make(map[string]bool, len(urls))
	for _, u := range urls {
		if p, err := url.Parse(u); err == nil {
			m[originKey(p.Scheme, p.Host)] = true
		}
	}
	return m
}

// misdirected answers a draft-08 request sent to an origin that is not one
// of Config.PublicURLs with 421 Misdirected Request, and reports whether it
// did.
func (h *Handler) misdirected(w http.ResponseWriter, r *http.Request) bool {
	if h.public == nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if h.public[originKey(scheme, r.Host)] {
		return false
	}
	httpError(w, http.StatusMisdirectedRequest, "this hub is not served at %s://%s: its draft-08 clients reach it at %s", scheme, r.Host, strings.Join(h.cfg.PublicURLs, ", "))
	return true
}

// resource returns the hub's resource identifier for r: the configured one,
// or the URL of the hub at the origin r was sent to, as Mercure 1.0 derives
// it. It is also the base URL of relative URL patterns and topics.
func (h *Handler) resource(r *http.Request) string {
	if h.cfg.ResourceIdentifier != "" {
		return h.cfg.ResourceIdentifier
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Path
}

// metadataURL returns the URL of the protected resource metadata of the
// resource identifier resource (RFC 9728 §3.1: the well-known path inserted
// between its host and its path), or "" when resource is not a URL.
func metadataURL(resource string) string {
	u, err := url.Parse(resource)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.EscapedPath(), "/")
}

// access verifies the draft-08 access token r presents (Authorization
// header, else the access cookie; never the query string). It returns nil
// claims and no error when r presents none. Its errors are answered by
// refuse08.
func (h *Handler) access(r *http.Request) (*auth.Claims, auth.Source, error) {
	tok, from, err := auth.AccessTokenFromRequest(r, h.cfg.AccessCookie)
	if err != nil {
		h.cfg.Metrics.AuthFailure("invalid")
		return nil, from, err
	}
	if tok == "" {
		return nil, from, nil
	}
	if !auth.IsAccessToken(tok) {
		h.cfg.Metrics.AuthFailure("invalid")
		return nil, from, fmt.Errorf("%w: the token is not a draft-08 access token (its typ header is not at+jwt); draft-07 tokens (with a mercure claim) work only with draft-07 requests (topic=)", herald.ErrUnauthorized)
	}
	if h.cfg.Access == nil {
		h.cfg.Metrics.AuthFailure("invalid")
		return nil, from, fmt.Errorf("%w: this hub trusts no issuer of draft-08 access tokens (herald serve --issuer)", herald.ErrUnauthorized)
	}
	c, err := h.cfg.Access.Verify(tok, h.resource(r))
	if err != nil {
		kind := "invalid"
		if errors.Is(err, jwt.ErrTokenExpired) {
			kind = "expired"
		}
		h.cfg.Metrics.AuthFailure(kind)
		return nil, from, err
	}
	return c, from, nil
}

// noTokenError is the refusal of a request that needs a token and presents
// none: RFC 6750 §3.1 answers it with a challenge without error code.
type noTokenError struct{ msg string }

func (e noTokenError) Error() string   { return e.msg }
func (e noTokenError) Unwrap() []error { return []error{auth.ErrNoToken, herald.ErrUnauthorized} }

// refuse08 answers a draft-08 request refused because of its credential (err
// from access, or wrapping herald.ErrForbidden, herald.ErrUnauthorized or
// auth.ErrNoToken) as RFC 6750 §3 and draft-08 "Error Responses" say: 401
// invalid_token, 403 insufficient_scope, 400 invalid_request, or 401 with
// no code when there is no token, each with a WWW-Authenticate challenge
// naming the hub's resource metadata. The description says why, without
// repeating anything the token holds.
func (h *Handler) refuse08(w http.ResponseWriter, r *http.Request, err error) {
	status, code, ok := auth.BearerError(err)
	if !ok {
		status = httperr.Status(err)
	}
	if errors.Is(err, errCookieOrigin) {
		code = "" // not the token's fault: no RFC 6750 code fits
	}
	desc := h.describe08(r, err)
	w.Header().Set("WWW-Authenticate", auth.Challenge(code, desc, metadataURL(h.resource(r))))
	httperr.Text(w, status, "%s", desc)
}

// quoted matches a Go-quoted string in an error message (what auth quotes
// from a token: its iss, kid, alg, typ, a matcher), and a character quoted
// by a JSON decoder ("invalid character 'x'").
var quoted = regexp.MustCompile(`\s?"(?:[^"\\]|\\.)*"|\s'[^'\s]{1,8}'`)

// describe08 is err's message for a client: what is wrong, without the
// sentinel's prefix and without the values quoted from the token, so that a
// draft-08 refusal echoes nothing the token holds (no reflected text, and
// little help to whoever forges tokens).
func (h *Handler) describe08(r *http.Request, err error) string {
	var nt noTokenError
	switch {
	case errors.As(err, &nt):
		return nt.msg
	case errors.Is(err, auth.ErrNoToken):
		return "the Authorization header does not hold a Bearer token"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token's audience (aud) does not include this hub's resource identifier, " + h.resource(r)
	}
	msg := httperr.Reason(err)
	return strings.TrimSpace(quoted.ReplaceAllString(msg, ""))
}

// challenge07 sets, on a draft-07 answer that asks for a token, the
// resource_metadata parameter of the challenge too when the hub serves
// draft 08, so that a draft-08 client that sent none finds the metadata.
func (h *Handler) challenge07(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Protocol.serves08() {
		return
	}
	if u := metadataURL(h.resource(r)); u != "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mercure", resource_metadata="`+u+`"`)
	}
}

// isMatchParam reports whether a query parameter name is in draft 08's
// reserved match namespace: "match", or beginning with "match" under an
// ASCII case-insensitive comparison.
func isMatchParam(name string) bool {
	return len(name) >= 5 && strings.EqualFold(name[:5], "match")
}

// draft08Publish reports whether a publish request speaks draft 08: its
// Authorization header carries an access token (typ at+jwt), or it has no
// Authorization header and sends the draft-08 access cookie.
func (h *Handler) draft08Publish(r *http.Request) bool {
	if v, ok := r.Header["Authorization"]; ok {
		if len(v) != 1 {
			return false
		}
		scheme, tok, _ := strings.Cut(strings.TrimSpace(v[0]), " ")
		return strings.EqualFold(scheme, "Bearer") && auth.IsAccessToken(strings.TrimSpace(tok))
	}
	_, err := r.Cookie(h.cfg.AccessCookie)
	return err == nil
}

// refuseGeneration answers a request of a generation the hub does not serve.
func (h *Handler) refuseGeneration(w http.ResponseWriter, draft08 bool) {
	if draft08 {
		httpError(w, http.StatusBadRequest, "this hub speaks only draft-07 Mercure: subscribe with topic=, and use tokens with a mercure claim")
		return
	}
	httpError(w, http.StatusBadRequest, "this hub speaks only draft-08 Mercure (Mercure 1.0): subscribe with match= or match_urlpattern=, and use access tokens (typ at+jwt) with Mercure authorization details")
}
