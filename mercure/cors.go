package mercure

import (
	"log/slog"

	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald/auth"
)

// AnyOrigin is the CORS origin that allows every origin, without
// credentials.
const AnyOrigin = "*"

// CORS is a cross-origin policy for browsers on other origins than the
// hub's. It is safe for concurrent use.
//
// Origins listed explicitly may use the hub with credentials: their requests
// get Access-Control-Allow-Origin naming them and
// Access-Control-Allow-Credentials: true, so a page there can subscribe and
// publish with the hub's cookie. [AnyOrigin] ("*") lets every other origin use
// the hub without credentials only (Access-Control-Allow-Origin: *, which
// browsers never combine with cookies): a page on any site can read public
// streams and publish with a token it holds in a header, but a user's cookie
// never lets a site the operator did not list read that user's private
// updates. Other origins get no CORS header.
type CORS struct {
	listed []string
	any    bool
	log    *slog.Logger
	warned atomic.Int64 // unix nanoseconds of the last warning about cookies under "*"
}

// NewCORS returns the policy for origins (each "scheme://host[:port]", or
// AnyOrigin). log receives a warning, at most once a minute, when a request
// from an origin allowed only by "*" carries the hub's cookie, which that
// origin cannot use; nil discards it.
func NewCORS(origins []string, log *slog.Logger) *CORS {
	c := &CORS{log: log}
	for _, o := range origins {
		if o == AnyOrigin {
			c.any = true
		} else {
			c.listed = append(c.listed, o)
		}
	}
	return c
}

// Credentialed reports whether origin was listed explicitly: its pages may
// use the hub with credentials (cookies).
func (c *CORS) Credentialed(origin string) bool {
	return slices.Contains(c.listed, origin)
}

// Handle sets the CORS response headers for r, and answers it when it is a
// preflight request (OPTIONS with Access-Control-Request-Method): it then
// reports true and the caller must not write anything more.
func (c *CORS) Handle(w http.ResponseWriter, r *http.Request) (answered bool) {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" || (len(c.listed) == 0 && !c.any) {
		if preflight {
			w.WriteHeader(http.StatusNoContent)
		}
		return preflight
	}
	hdr := w.Header()
	credentialed := c.Credentialed(origin)
	if len(c.listed) > 0 {
		// The answer depends on the origin: caches must keep them apart.
		hdr.Add("Vary", "Origin")
	}
	switch {
	case credentialed:
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	case c.any:
		hdr.Set("Access-Control-Allow-Origin", "*")
		if c.log != nil && hasCookie(r) {
			c.warnCookie(origin)
		}
	default:
		if preflight {
			w.WriteHeader(http.StatusNoContent)
		}
		return preflight
	}
	// Mercure-Last-Event-ID and Link (the reconciliation cursor) are draft
	// 08's; WWW-Authenticate tells a page why it was refused.
	hdr.Set("Access-Control-Expose-Headers", "Last-Event-ID, Mercure-Last-Event-ID, Link, WWW-Authenticate, Retry-After, "+BatchLineHeader)
	if !preflight {
		return false
	}
	hdr.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	// Authorization is listed by name: "*" never covers it.
	hdr.Set("Access-Control-Allow-Headers", "Authorization, Cache-Control, Content-Type, Last-Event-ID")
	hdr.Set("Access-Control-Max-Age", "3600")
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		// Chromium asks before a public page may reach a hub on a private
		// network; an allowed origin may.
		hdr.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// hasCookie reports whether r carries the hub's authorization cookie.
func hasCookie(r *http.Request) bool {
	_, err := r.Cookie(auth.CookieName)
	return err == nil
}

// warnCookie logs, at most once a minute, that a page of origin sent the
// hub's cookie, which "*" does not let it use.
func (c *CORS) warnCookie(origin string) {
	now := time.Now().UnixNano()
	last := c.warned.Load()
	if now-last < int64(time.Minute) || !c.warned.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn("a page on an origin allowed only by CORS origin * sent the hub's authorization cookie: browsers do not let it read the answer, and publishing with it is refused; list the origin in --cors-origins to let its pages use cookies",
		"origin", origin)
}

// sameHost reports whether origin is the origin of the host r was sent to.
func sameHost(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == r.Host
}
