package mercure

import (
	"fmt"
	"net/http"

	"github.com/herald-sse/herald/internal/httperr"
)

// StatusCode maps an error from any layer to the HTTP status that reports it.
func StatusCode(err error) int { return httperr.Status(err) }

// httpError answers with status and a one-line plain-text message.
func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	h := w.Header()
	h.Del("Last-Event-ID")
	h.Del(LastEventIDField)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="mercure"`)
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}
