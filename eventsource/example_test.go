package eventsource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/herald-sse/herald/eventsource"
)

func ExampleClient() {
	// A server that sends two events and closes the stream, then, when the
	// client comes back with the last event ID, says it is done (204).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Last-Event-ID") == "2" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 10\n\nid: 1\ndata: hello\n\nid: 2\nevent: update\ndata: line one\ndata: line two\n\n")
	}))
	defer srv.Close()

	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		panic(err)
	}
	c := &eventsource.Client{
		Reconnect: eventsource.Reconnect{ReadTimeout: time.Minute},
		OnStateChange: func(sc eventsource.StateChange) {
			if sc.State == eventsource.StateReconnecting {
				fmt.Printf("reconnecting in %v: %v\n", sc.Delay.Truncate(10*time.Millisecond), sc.Err)
			}
		},
	}
	for ev, err := range c.Events(context.Background(), req) {
		if errors.Is(err, eventsource.ErrNoContent) {
			fmt.Println("done:", err)
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Printf("%s id=%s %q\n", ev.Type, ev.ID, ev.Data)
	}
	// Output:
	// message id=1 "hello"
	// update id=2 "line one\nline two"
	// reconnecting in 10ms: eventsource: server closed the stream
	// done: eventsource: server ended the stream (204 No Content)
}
