package auth

import (
	"net/http"
	"strings"
)

// CookieName is the cookie a browser sends its subscriber token in
// (draft-dunglas-mercure-07): EventSource cannot set headers.
const CookieName = "mercureAuthorization"

// QueryParam is the query parameter that may carry a token, for clients that
// can set neither headers nor cookies.
const QueryParam = "authorization"

// Source says where [TokenFromRequest] found a token.
type Source uint8

// Token locations, in the order TokenFromRequest looks at them.
const (
	// SourceNone means the request carries no credential: the client is
	// anonymous.
	SourceNone Source = iota
	// SourceHeader is the Authorization header: "Bearer <token>".
	SourceHeader
	// SourceQuery is the query parameter [QueryParam]: ?authorization=<token>.
	SourceQuery
	// SourceCookie is the cookie [CookieName]: mercureAuthorization=<token>.
	SourceCookie
)

// String returns "none", "header", "query" or "cookie".
func (s Source) String() string {
	switch s {
	case SourceHeader:
		return "header"
	case SourceQuery:
		return "query"
	case SourceCookie:
		return "cookie"
	}
	return "none"
}

// TokenFromRequest returns the token r carries and where it was found,
// looking in this order (issue 4, as the Mercure hub does): the
// Authorization header, the authorization query parameter, the
// mercureAuthorization cookie. The first location present decides: a
// credential there that cannot be used (an Authorization header that is not
// "Bearer <token>", several Authorization headers, an empty or repeated
// query parameter, an empty cookie) yields an empty token with that Source,
// and the search stops rather than fall back to a later location. So:
//
//   - token != "": verify it;
//   - token == "" and from == SourceNone: the client is anonymous;
//   - token == "" and from != SourceNone: answer 401, the credential in
//     that location is malformed.
//
// The "Bearer" scheme is matched case-insensitively (RFC 7235).
func TokenFromRequest(r *http.Request) (token string, from Source) {
	if h, ok := r.Header["Authorization"]; ok {
		if len(h) != 1 {
			return "", SourceHeader
		}
		scheme, t, ok := strings.Cut(strings.TrimSpace(h[0]), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", SourceHeader
		}
		return strings.TrimSpace(t), SourceHeader
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		if q, ok := r.URL.Query()[QueryParam]; ok {
			if len(q) != 1 {
				return "", SourceQuery
			}
			return q[0], SourceQuery
		}
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value, SourceCookie
	}
	return "", SourceNone
}
