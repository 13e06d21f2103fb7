package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/herald-sse/herald/hub"
)

// mountDemo serves the demo page at /.
func mountDemo(mux *http.ServeMux, h *hub.Hub, c serveConfig, log *slog.Logger) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Herald is running. Subscribe at /.well-known/mercure?topic=<topic>.\n")
	})
}
