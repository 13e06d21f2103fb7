package web

import (
	"net/http"

	"github.com/herald-sse/herald/internal/httperr"
)

// cors sets the CORS headers of r's answer, as the Mercure handler does,
// and answers it when it is a preflight or another OPTIONS request. It
// reports whether it answered r.
func (d *Demo) cors(w http.ResponseWriter, r *http.Request) bool {
	if d.corsPolicy.Handle(w, r) {
		return true
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// httpError answers with status and a one-line plain-text message.
func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	httperr.Text(w, status, format, args...)
}
