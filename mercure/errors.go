package mercure

import (
	"net/http"

	"github.com/herald-sse/herald/internal/httperr"
)

// StatusCode maps an error from any layer to the HTTP status that reports it.
func StatusCode(err error) int { return httperr.Status(err) }

// httpError answers with status and a one-line plain-text message.
func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	httperr.Text(w, status, format, args...)
}
