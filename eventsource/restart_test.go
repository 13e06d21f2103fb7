package eventsource_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/sse"
)

// remotes records the client address of each request a handler serves.
type remotes struct {
	script
	addrs chan string
}

func (r *remotes) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.addrs <- fmt.Sprintf("HTTP/%d %s", req.ProtoMajor, req.RemoteAddr)
	r.script.ServeHTTP(w, req)
}

// TestRestart: Stream.Restart drops the connection at once and connects
// again, on a new connection, without waiting the reconnection time the
// server set, with a request rebuilt by BeforeConnect (new credentials) and
// the last event ID.
func TestRestart(t *testing.T) {
	gone := make(chan struct{})
	h := &remotes{addrs: make(chan string, 10), script: script{handlers: []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) {
			sendAndHold("retry: 3600000\nid: 1\ndata: one\n\n")(w, r)
			close(gone)
		},
		sendAndHold("data: two\n\n"),
	}}}
	ts := httptest.NewServer(h)
	defer ts.Close()

	n := 0
	var states []string
	c := &eventsource.Client{
		BeforeConnect: func(ctx context.Context, req *http.Request) error {
			n++
			req.Header.Set("Authorization", fmt.Sprintf("Bearer token-%d", n))
			return nil
		},
		OnStateChange: func(sc eventsource.StateChange) {
			if sc.State == eventsource.StateReconnecting {
				states = append(states, fmt.Sprintf("failures=%d delay=%v err=%v", sc.Failures, sc.Delay, sc.Err))
			}
		},
	}
	s := c.Stream(mustRequest(t, "GET", ts.URL, nil))
	var got []sse.Event
	for ev, err := range s.Events(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
		if ev.Data == "one" {
			s.Restart()
		}
		if ev.Data == "two" {
			break
		}
	}
	<-gone
	if want := []sse.Event{{ID: "1", Type: "message", Data: "one", Retry: time.Hour}, {ID: "1", Type: "message", Data: "two"}}; !slices.Equal(got, want) {
		t.Errorf("events = %+v, want %+v", got, want)
	}
	reqs := h.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if got := reqs[1].Header.Get("Last-Event-ID"); got != "1" {
		t.Errorf("Last-Event-ID after restart = %q, want 1", got)
	}
	if got := reqs[1].Header.Get("Authorization"); got != "Bearer token-2" {
		t.Errorf("Authorization after restart = %q, want the rebuilt request's", got)
	}
	if want := []string{"failures=0 delay=0s err=" + eventsource.ErrRestarted.Error()}; !slices.Equal(states, want) {
		t.Errorf("reconnecting states = %q, want %q", states, want)
	}
	if a, b := <-h.addrs, <-h.addrs; a == b {
		t.Errorf("both requests came from %s, want a new connection", a)
	}
}

// TestRestartOverHTTP2: over HTTP/2, where a stream shares its connection,
// Restart with the private transport still makes the next attempt open a
// new connection (a proxy that routes per connection sees it).
func TestRestartOverHTTP2(t *testing.T) {
	h := &remotes{addrs: make(chan string, 10), script: script{handlers: []http.HandlerFunc{
		sendAndHold("id: 1\ndata: one\n\n"),
		sendAndHold("data: two\n\n"),
	}}}
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	defer ts.Close()
	// The private transport is a clone of http.DefaultTransport: make that
	// trust the test server, for this test.
	saved := http.DefaultTransport
	http.DefaultTransport = ts.Client().Transport
	defer func() { http.DefaultTransport = saved }()

	s := (&eventsource.Client{}).Stream(mustRequest(t, "GET", ts.URL, nil))
	for ev, err := range s.Events(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Data == "one" {
			s.Restart()
		}
		if ev.Data == "two" {
			break
		}
	}
	a, b := <-h.addrs, <-h.addrs
	if a[:6] != "HTTP/2" || b[:6] != "HTTP/2" {
		t.Fatalf("requests over %s and %s, want HTTP/2", a, b)
	}
	if a == b {
		t.Errorf("both requests came over %s, want a new connection", a)
	}
}

// TestRestartWhileWaitingForResponse: Restart from another goroutine
// abandons an attempt the server does not answer.
func TestRestartWhileWaitingForResponse(t *testing.T) {
	arrived, gone := make(chan struct{}), make(chan struct{})
	ts, s := newServer(t,
		func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			<-r.Context().Done()
			close(gone)
		},
		sendAndHold("data: answered\n\n"))
	st := (&eventsource.Client{}).Stream(mustRequest(t, "GET", ts.URL, nil))
	go func() {
		<-arrived
		st.Restart()
	}()
	for ev, err := range st.Events(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Data != "answered" {
			t.Errorf("event %+v", ev)
		}
		break
	}
	<-gone
	if n := len(s.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// TestRestartKeepsPolicy: a restart is not a failure; it does not wait, and
// the reconnection time the server set and the last event ID stay in force
// for the reconnections after it.
func TestRestartKeepsPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{
			sendAndHold("retry: 5000\nid: 1\ndata: one\n\n"),
			send("data: two\n\n"),
			sendAndHold("data: three\n\n"),
		}}
		st := (&eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{Jitter: -1}}).Stream(mustRequest(t, "GET", memURL, nil))
		var got []sse.Event
		for ev, err := range st.Events(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
			if ev.Data == "one" {
				time.Sleep(2 * time.Second)
				st.Restart()
			}
			if ev.Data == "three" {
				break
			}
		}
		reqs := s.requests()
		if d, want := intervals(reqs), []time.Duration{2 * time.Second, 5 * time.Second}; !slices.Equal(d, want) {
			t.Errorf("intervals = %v, want %v", d, want)
		}
		for i, r := range reqs[1:] {
			if id := r.Header.Get("Last-Event-ID"); id != "1" {
				t.Errorf("request %d Last-Event-ID = %q, want 1", i+2, id)
			}
		}
		if len(got) != 3 || got[2].ID != "1" {
			t.Errorf("events = %+v", got)
		}
	})
}

// TestRestartDuringBackoff: Restart cuts the wait before a reconnection
// short, and the count of failures in a row stays.
func TestRestartDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{empty, empty, sendAndHold("data: up\n\n")}}
		var st *eventsource.Stream
		var failures []int
		c := &eventsource.Client{
			HTTPClient: newMemServer(t, s),
			Reconnect:  eventsource.Reconnect{Delay: time.Hour, MaxDelay: 10 * time.Hour, Jitter: -1},
			OnStateChange: func(sc eventsource.StateChange) {
				if sc.State != eventsource.StateReconnecting {
					return
				}
				failures = append(failures, sc.Failures)
				if sc.Failures == 1 {
					go func() {
						time.Sleep(3 * time.Second)
						st.Restart()
					}()
				}
			},
		}
		st = c.Stream(mustRequest(t, "GET", memURL, nil))
		for _, err := range st.Events(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if d, want := intervals(s.requests()), []time.Duration{3 * time.Second, 2 * time.Hour}; !slices.Equal(d, want) {
			t.Errorf("intervals = %v, want %v", d, want)
		}
		if want := []int{1, 2}; !slices.Equal(failures, want) {
			t.Errorf("failures = %v, want %v", failures, want)
		}
	})
}

// TestRestartWhenNotRunning: Restart with no iteration running does
// nothing, and a Stream can be iterated again, from its request.
func TestRestartWhenNotRunning(t *testing.T) {
	ts, s := newServer(t, send("id: 1\ndata: one\n\n"))
	st := (&eventsource.Client{Reconnect: fast}).Stream(mustRequest(t, "GET", ts.URL, nil))
	st.Restart()
	for range 2 {
		for ev, err := range st.Events(t.Context()) {
			if err != nil || ev.Data != "one" {
				t.Fatalf("%+v, %v", ev, err)
			}
			break
		}
		st.Restart()
	}
	for i, r := range s.requests() {
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			t.Errorf("request %d Last-Event-ID = %q: each iteration starts from the request", i+1, id)
		}
	}
}
