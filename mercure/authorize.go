package mercure

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald/auth"
)

// token verifies the token r presents, if any, with v. It returns nil claims
// and a nil error when r presents no token.
func (h *Handler) token(r *http.Request, v *auth.Verifier, role string) (*auth.Claims, auth.Source, error) {
	tok, from := auth.TokenFromRequest(r)
	if tok == "" {
		if from != auth.SourceNone {
			// A credential is there but unusable (e.g. "Authorization: Basic
			// …"): refuse rather than silently treat the client as anonymous.
			h.cfg.Metrics.AuthFailure("invalid")
			return nil, from, fmt.Errorf("the %s credential is malformed; send a JWT as \"Authorization: Bearer <token>\", the %s query parameter or the %s cookie", from, auth.QueryParam, auth.CookieName)
		}
		return nil, from, nil
	}
	if v == nil {
		h.cfg.Metrics.AuthFailure("invalid")
		return nil, from, errors.New("this hub has no " + role + " key configured, so it cannot verify " + role + " tokens")
	}
	c, err := v.Verify(tok)
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

// originAllowed reports whether a browser request that carried its token
// in a cookie comes from an origin allowed to use it. Cookies are sent by
// browsers on cross-site requests too, so without this check any web page
// could publish with a visitor's cookie (CSRF).
func (h *Handler) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref := r.Header.Get("Referer"); ref != "" {
			if u, err := url.Parse(ref); err == nil {
				origin = u.Scheme + "://" + u.Host
			}
		}
	}
	if origin == "" {
		return true // not a browser-initiated cross-site request
	}
	// Only origins listed in full may use credentials: "*" does not allow
	// cookies.
	return h.cors.Credentialed(origin) || sameHost(origin, r)
}

var errForbiddenOrigin = errors.New("a token sent in a cookie may only publish from an allowed origin")
