package web

import (
	"fmt"
	"net/http"
	"slices"
)

// cors sets the CORS headers when r comes from an allowed origin, with
// credentials, and answers preflight requests. It reports whether it
// answered r.
func (d *Demo) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	hdr := w.Header()
	if origin != "" && len(d.cfg.CORSOrigins) > 0 {
		hdr.Add("Vary", "Origin")
		if slices.Contains(d.cfg.CORSOrigins, "*") || slices.Contains(d.cfg.CORSOrigins, origin) {
			// Credentials forbid "*": echo the origin.
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Set("Access-Control-Allow-Credentials", "true")
			hdr.Set("Access-Control-Expose-Headers", "Last-Event-ID, Retry-After")
		}
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if hdr.Get("Access-Control-Allow-Origin") != "" {
		hdr.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Content-Type, Last-Event-ID, Cache-Control")
		hdr.Set("Access-Control-Max-Age", "3600")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// httpError answers with status and a one-line plain-text message.
func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}
