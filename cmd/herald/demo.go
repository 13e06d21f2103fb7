package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/web"
)

// mountDemo serves the demo page and its endpoints (package web) at the root
// of mux, and starts the demo's periodic events. --demo=false turns off
// sending from the page; the page, with its debugging panel, is still served.
// stop ends the demo's goroutines and waits for them; call it before closing
// the store.
func mountDemo(mux *http.ServeMux, h *hub.Hub, c serveConfig, log *slog.Logger) (stop func(), err error) {
	d, err := web.New(web.Config{
		Hub:          h,
		AllowPublish: c.demo,
		CORSOrigins:  splitList(c.corsOrigins),
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("/", d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
