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

func ExampleStream_Restart() {
	// A server that sends a comment and an event, and ends the stream (204)
	// once the client comes back with the event's ID and a new token.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Last-Event-ID") == "1" && r.Header.Get("Authorization") == "Bearer token-2" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": hello\n\nid: 1\ndata: one\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()

	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		panic(err)
	}
	token := 0
	c := &eventsource.Client{
		// Every attempt, the restarted one too, is sent with a fresh token.
		BeforeConnect: func(ctx context.Context, req *http.Request) error {
			token++
			req.Header.Set("Authorization", fmt.Sprintf("Bearer token-%d", token))
			return nil
		},
		OnComment: func(text string) { fmt.Println("comment:", text) },
		OnStateChange: func(sc eventsource.StateChange) {
			if sc.State == eventsource.StateReconnecting {
				fmt.Printf("reconnecting in %v: %v\n", sc.Delay, sc.Err)
			}
		},
	}
	stream := c.Stream(req)
	for ev, err := range stream.Events(context.Background()) {
		if err != nil {
			fmt.Println("done:", err)
			break
		}
		fmt.Printf("%s id=%s %q\n", ev.Type, ev.ID, ev.Data)
		stream.Restart() // as a token refresher would, from any goroutine
	}
	// Output:
	// comment: hello
	// message id=1 "one"
	// reconnecting in 0s: eventsource: restarted by the caller
	// done: eventsource: server ended the stream (204 No Content)
}
