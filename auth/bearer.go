package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/herald-sse/herald"
)

// AccessCookieName is the cookie a browser sends its draft-8 access token in
// (draft-dunglas-mercure-08, "Cookie"). A hub may use another name.
const AccessCookieName = "__Secure-mercure_access_token"

// ErrNoToken reports a request that presents no bearer token (none at all,
// or only an Authorization header of another scheme). Errors wrapping it
// also wrap [herald.ErrUnauthorized]; RFC 6750 §3.1 says to answer 401 with
// a challenge that carries no error code.
var ErrNoToken = errors.New("auth: no bearer token")

// noTokenError wraps ErrNoToken and herald.ErrUnauthorized.
type noTokenError struct{ msg string }

func (e *noTokenError) Error() string   { return herald.ErrUnauthorized.Error() + ": " + e.msg }
func (e *noTokenError) Unwrap() []error { return []error{ErrNoToken, herald.ErrUnauthorized} }

func noToken(msg string) error { return &noTokenError{msg} }

// RFC 6750 §3.1 error codes.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// BearerError returns how a hub answers err as RFC 6750 §3 (and
// draft-dunglas-mercure-08 "Error Responses") says: the HTTP status and the
// error code of its WWW-Authenticate: Bearer challenge:
//
//   - [ErrNoToken]: 401 and no code;
//   - [herald.ErrInvalid] (a malformed token presentation): 400, invalid_request;
//   - [herald.ErrForbidden] (a valid token that does not grant the
//     operation): 403, insufficient_scope;
//   - [herald.ErrUnauthorized] (a token that failed validation): 401,
//     invalid_token.
//
// ok is false for any other error, which is not an authorization failure.
func BearerError(err error) (status int, code string, ok bool) {
	switch {
	case errors.Is(err, ErrNoToken):
		return http.StatusUnauthorized, "", true
	case errors.Is(err, herald.ErrInvalid):
		return http.StatusBadRequest, CodeInvalidRequest, true
	case errors.Is(err, herald.ErrForbidden):
		return http.StatusForbidden, CodeInsufficientScope, true
	case errors.Is(err, herald.ErrUnauthorized):
		return http.StatusUnauthorized, CodeInvalidToken, true
	}
	return 0, "", false
}

// Challenge returns a WWW-Authenticate header value for the Bearer scheme
// (RFC 6750 §3): the error code and description when code is not empty, and
// resource_metadata, the URL of the hub's protected resource metadata (RFC
// 9728 §5.1), when it is not empty. Characters RFC 6750 does not allow in a
// quoted value (", \ and non-ASCII or control characters) are replaced in
// the description by '?'.
func Challenge(code, description, resourceMetadata string) string {
	var params []string
	if code != "" {
		params = append(params, `error="`+code+`"`)
		if description != "" {
			params = append(params, `error_description="`+challengeText(description)+`"`)
		}
	}
	if resourceMetadata != "" {
		params = append(params, `resource_metadata="`+challengeText(resourceMetadata)+`"`)
	}
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

func challengeText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}

// AccessTokenFromRequest returns the token of a draft-8 request and where it
// was found (draft-08 "Presenting the Access Token"): the Authorization
// header's Bearer token when the header is present (a cookie is then
// ignored), else the cookie cookieName ([AccessCookieName] when empty). The
// query string is never read: draft 8 forbids tokens in URLs.
//
// It returns "", [SourceNone] and no error when the request presents no
// credential. The error wraps [ErrNoToken] for an Authorization header of
// another scheme ("Basic ..."), and [herald.ErrInvalid] (invalid_request)
// for several Authorization headers, a Bearer header without a token or
// with one that is not token68 syntax (RFC 6750 §2.1), or an empty cookie.
func AccessTokenFromRequest(r *http.Request, cookieName string) (token string, from Source, err error) {
	if cookieName == "" {
		cookieName = AccessCookieName
	}
	if h, ok := r.Header["Authorization"]; ok {
		if len(h) != 1 {
			return "", SourceHeader, fmt.Errorf("%w: %d Authorization headers, send one", herald.ErrInvalid, len(h))
		}
		scheme, t, _ := strings.Cut(strings.TrimSpace(h[0]), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", SourceHeader, noToken(`the Authorization header is not "Bearer <token>"`)
		}
		t = strings.TrimLeft(t, " ")
		if !isToken68(t) {
			return "", SourceHeader, fmt.Errorf("%w: the Authorization header's Bearer token is empty or malformed", herald.ErrInvalid)
		}
		return t, SourceHeader, nil
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if c.Value == "" {
			return "", SourceCookie, fmt.Errorf("%w: the %s cookie is empty", herald.ErrInvalid, cookieName)
		}
		return c.Value, SourceCookie, nil
	}
	return "", SourceNone, nil
}

// isToken68 reports whether s is b64token syntax (RFC 6750 §2.1):
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// IsAccessToken reports whether token's header says it is an RFC 9068
// access token (typ at+jwt), without verifying anything: a hub can use it
// to tell which protocol generation a request whose parameters do not say
// (a publish) speaks, then verify the token with the matching verifier. For
// a header that cannot say at+jwt (the draft-07 tokens a hub sees on every
// publish) it allocates nothing.
func IsAccessToken(token string) bool {
	head, _, ok := strings.Cut(token, ".")
	if !ok || len(head) > 4096 {
		return false
	}
	var buf [3072]byte
	b, ok := decodeBase64URL(buf[:0], head)
	if !ok {
		return false
	}
	if !containsFold(b, "at+jwt") && bytes.IndexByte(b, '\\') < 0 {
		return false // no typ can say at+jwt, escaped or not
	}
	var h struct {
		Typ string `json:"typ"`
	}
	// A copy, so that buf does not escape: only access tokens pay for it.
	return json.Unmarshal(bytes.Clone(b), &h) == nil && isAccessType(h.Typ)
}

// decodeBase64URL appends to dst the unpadded base64url decoding of s, as
// base64.RawURLEncoding.DecodeString does, without converting s.
func decodeBase64URL(dst []byte, s string) ([]byte, bool) {
	var acc uint32
	bits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '-':
			v = 62
		case c == '_':
			v = 63
		case c == '\r' || c == '\n':
			continue // as DecodeString does
		default:
			return nil, false
		}
		acc = acc<<6 | uint32(v)
		if bits += 6; bits >= 8 {
			bits -= 8
			dst = append(dst, byte(acc>>bits))
		}
	}
	// A lone trailing character is not base64 (leftover bits, which
	// RawURLEncoding does not check, are dropped).
	return dst, bits < 6
}

// containsFold reports whether b contains the lower-case ASCII string s,
// ignoring ASCII case.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		j := 0
		for ; j < len(s); j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != s[j] {
				break
			}
		}
		if j == len(s) {
			return true
		}
	}
	return false
}
