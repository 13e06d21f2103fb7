package main

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/r3labs/sse/v2"
)

// newR3labs serves r3labs/sse v2.10.0: one stream per topic, created on
// demand, with its event log (AutoReplay, its default) for Last-Event-ID.
func newR3labs(config) (*impl, error) {
	s := sse.New()
	s.AutoStream = true
	sub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		topic := r.URL.Query().Get("topic")
		if topic == "" {
			http.Error(w, "missing topic", http.StatusBadRequest)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = url.Values{"stream": {topic}}.Encode()
		// r3labs replays from the event whose id is Last-Event-ID,
		// included; the protocol asks for the events after it.
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			if n, err := strconv.Atoi(id); err == nil {
				r2.Header.Set("Last-Event-ID", strconv.Itoa(n+1))
			}
		}
		s.ServeHTTP(w, r2)
	})
	return &impl{
		handler: endpoints(sub, func(topics []string, data string) error {
			for _, t := range topics {
				s.Publish(t, &sse.Event{Data: []byte(data)})
			}
			return nil
		}),
		close: s.Close,
	}, nil
}
