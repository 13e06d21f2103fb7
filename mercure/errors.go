package mercure

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/herald-sse/herald"
)

// StatusCode maps an error from any layer to the HTTP status that reports it.
func StatusCode(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, herald.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, herald.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, herald.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, herald.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, herald.ErrUnavailable), errors.Is(err, herald.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, herald.ErrNotHeld):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

// httpError answers with status and a one-line plain-text message.
func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	h := w.Header()
	h.Del("Last-Event-ID")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="mercure"`)
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}
