package main

import (
	"context"
	"net/http"

	sse "github.com/tmaxmax/go-sse"
)

// newGoSSE serves tmaxmax/go-sse v0.11.0: its Joe provider, with a
// FiniteReplayer holding as many events as the other histories so that
// subscribers can resume with Last-Event-ID.
func newGoSSE(config) (*impl, error) {
	replayer, err := sse.NewFiniteReplayer(historySize, true)
	if err != nil {
		return nil, err
	}
	joe := &sse.Joe{Replayer: replayer}
	srv := &sse.Server{
		Provider: joe,
		OnSession: func(w http.ResponseWriter, r *http.Request) ([]string, bool) {
			topics := r.URL.Query()["topic"]
			if len(topics) == 0 {
				http.Error(w, "missing topic", http.StatusBadRequest)
				return nil, false
			}
			// go-sse sends the headers with the first event; send them now
			// so that subscribers know they are connected.
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
			return topics, true
		},
	}
	return &impl{
		handler: endpoints(srv, func(topics []string, data string) error {
			m := &sse.Message{}
			m.AppendData(data)
			return srv.Publish(m, topics...)
		}),
		close: func() { _ = joe.Shutdown(context.Background()) },
	}, nil
}

// endpoints serves subscriptions with sub and publications (a form with
// topic and data) with pub.
func endpoints(sub http.Handler, pub func(topics []string, data string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			sub.ServeHTTP(w, r)
		case http.MethodPost:
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			topics := r.PostForm["topic"]
			if len(topics) == 0 {
				http.Error(w, "missing topic", http.StatusBadRequest)
				return
			}
			if err := pub(topics, r.PostForm.Get("data")); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok"))
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}
