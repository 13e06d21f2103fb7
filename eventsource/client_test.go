package eventsource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/sse"
)

func TestFirstRequestHeaders(t *testing.T) {
	ts, s := newServer(t, sendAndHold("data: hello\n\n"))
	c := &eventsource.Client{}
	got := collect(t, c, mustRequest(t, "GET", ts.URL+"/events", nil), 1)

	if got[0].Data != "hello" || got[0].Type != "message" || got[0].ID != "" {
		t.Errorf("event = %+v, want message \"hello\" without id", got[0])
	}
	r := s.requests()[0]
	if r.Method != "GET" || r.Path != "/events" {
		t.Errorf("request = %s %s, want GET /events", r.Method, r.Path)
	}
	if got, want := r.Header.Get("Accept"), "text/event-stream"; got != want {
		t.Errorf("Accept = %q, want %q", got, want)
	}
	// The standard's cache mode "no-store", as the Fetch standard turns it
	// into headers.
	for name, want := range map[string]string{"Cache-Control": "no-cache", "Pragma": "no-cache"} {
		if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if v := r.Header.Values("Last-Event-Id"); len(v) != 0 {
		t.Errorf("first request sent Last-Event-ID %q, want none", v)
	}
}

// TestCacheHeadersOfTheCallerKept: as in the Fetch standard, Cache-Control
// and Pragma are each added only when the request does not set it, on every
// attempt.
func TestCacheHeadersOfTheCallerKept(t *testing.T) {
	tests := []struct {
		name                  string
		set                   map[string]string
		wantCache, wantPragma string
	}{
		{"Cache-Control set", map[string]string{"Cache-Control": "max-age=0"}, "max-age=0", "no-cache"},
		{"Pragma set", map[string]string{"Pragma": "foo"}, "no-cache", "foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, s := newServer(t, send("id: 1\ndata: one\n\n"), sendAndHold("data: two\n\n"))
			req := mustRequest(t, "GET", ts.URL, nil)
			for k, v := range tt.set {
				req.Header.Set(k, v)
			}
			collect(t, &eventsource.Client{Reconnect: fast}, req, 2)
			for i, r := range s.requests() {
				if got := r.Header.Values("Cache-Control"); len(got) != 1 || got[0] != tt.wantCache {
					t.Errorf("request %d Cache-Control = %q, want %q", i, got, tt.wantCache)
				}
				if got := r.Header.Values("Pragma"); len(got) != 1 || got[0] != tt.wantPragma {
					t.Errorf("request %d Pragma = %q, want %q", i, got, tt.wantPragma)
				}
			}
		})
	}
}

func TestInitialLastEventIDFromRequest(t *testing.T) {
	ts, s := newServer(t, sendAndHold("data: hello\n\n"))
	req := mustRequest(t, "GET", ts.URL, nil)
	req.Header.Set("Last-Event-ID", "abc")
	got := collect(t, &eventsource.Client{}, req, 1)

	if got, want := s.requests()[0].Header.Get("Last-Event-ID"), "abc"; got != want {
		t.Errorf("Last-Event-ID = %q, want %q", got, want)
	}
	// The initial ID is the last event ID in force until the stream sets one.
	if got[0].ID != "abc" {
		t.Errorf("event ID = %q, want %q", got[0].ID, "abc")
	}
}

func TestCustomMethodHeadersAndBodyOnEveryAttempt(t *testing.T) {
	for _, method := range []string{"POST", "REPORT"} {
		t.Run(method, func(t *testing.T) {
			ts, s := newServer(t, send("id: 1\ndata: one\n\n"), sendAndHold("data: two\n\n"))
			const body = `{"hello": "world"}`
			req := mustRequest(t, method, ts.URL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			req.Header.Set("X-Custom", "value-1")
			req.Header.Set("Accept", "text/event-stream, application/json")
			collect(t, &eventsource.Client{Reconnect: fast}, req, 2)

			reqs := s.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			for i, r := range reqs {
				if r.Method != method || r.Body != body {
					t.Errorf("request %d = %s with body %q, want %s with %q", i, r.Method, r.Body, method, body)
				}
				if got := r.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
					t.Errorf("request %d Content-Type = %q", i, got)
				}
				if got := r.Header.Get("X-Custom"); got != "value-1" {
					t.Errorf("request %d X-Custom = %q", i, got)
				}
				if got := r.Header.Get("Accept"); got != "text/event-stream, application/json" {
					t.Errorf("request %d Accept = %q, want the caller's", i, got)
				}
			}
			if got := reqs[1].Header.Get("Last-Event-ID"); got != "1" {
				t.Errorf("reconnection Last-Event-ID = %q, want %q", got, "1")
			}
		})
	}
}

// TestStreamCutMidEvent checks that an event whose blank line never arrives
// is not delivered, whether the body ends cleanly or the connection is cut,
// and that the reconnection sends the ID of the last complete event, not the
// one of the partial block.
func TestStreamCutMidEvent(t *testing.T) {
	for name, cut := range map[string]func(...string) http.HandlerFunc{"clean end": send, "connection cut": sendAndCut} {
		t.Run(name, func(t *testing.T) {
			ts, s := newServer(t,
				cut("id: 1\ndata: one\n\nid: 2\ndata: partial"),
				sendAndHold("data: three\n\n"))
			var states []eventsource.StateChange
			c := &eventsource.Client{Reconnect: fast, OnStateChange: func(sc eventsource.StateChange) {
				states = append(states, sc)
			}}
			got := collect(t, c, mustRequest(t, "GET", ts.URL, nil), 2)

			want := []sse.Event{{ID: "1", Type: "message", Data: "one"}, {ID: "1", Type: "message", Data: "three"}}
			if !slices.Equal(got, want) {
				t.Errorf("events = %+v, want %+v", got, want)
			}
			if got := s.requests()[1].Header.Get("Last-Event-ID"); got != "1" {
				t.Errorf("reconnection Last-Event-ID = %q, want %q", got, "1")
			}
			i := slices.IndexFunc(states, func(sc eventsource.StateChange) bool { return sc.State == eventsource.StateReconnecting })
			if i < 0 {
				t.Fatalf("no reconnecting state in %+v", states)
			}
			if name == "clean end" && !errors.Is(states[i].Err, eventsource.ErrStreamEnded) {
				t.Errorf("reconnecting after %v, want ErrStreamEnded", states[i].Err)
			}
			if name == "connection cut" && (states[i].Err == nil || errors.Is(states[i].Err, eventsource.ErrStreamEnded)) {
				t.Errorf("reconnecting after %v, want a broken stream error", states[i].Err)
			}
		})
	}
}

func TestServerClosesAfterEachEvent(t *testing.T) {
	ts, s := newServer(t,
		send("id: 1\ndata: one\n\n"),
		send("id: 2\ndata: two\n\n"),
		send("data: three\n\n"),
		sendAndHold("data: four\n\n"))
	got := collect(t, &eventsource.Client{Reconnect: fast}, mustRequest(t, "GET", ts.URL, nil), 4)

	var ids, data []string
	for _, ev := range got {
		ids, data = append(ids, ev.ID), append(data, ev.Data)
	}
	if want := []string{"one", "two", "three", "four"}; !slices.Equal(data, want) {
		t.Errorf("data = %q, want %q", data, want)
	}
	// The ID persists across reconnections until the server sets another.
	if want := []string{"1", "2", "2", "2"}; !slices.Equal(ids, want) {
		t.Errorf("ids = %q, want %q", ids, want)
	}
	var sent []string
	for _, r := range s.requests() {
		sent = append(sent, r.Header.Get("Last-Event-ID"))
	}
	if want := []string{"", "1", "2", "2"}; !slices.Equal(sent, want) {
		t.Errorf("Last-Event-ID sent = %q, want %q", sent, want)
	}
}

func TestLastEventIDRules(t *testing.T) {
	tests := []struct {
		name     string
		first    string   // the first connection's stream, which then ends
		wantIDs  []string // IDs of the events of the first connection
		wantSent []string // Last-Event-ID values of the reconnection
		wantNext string   // ID of the next connection's event, which has no id
	}{
		{"id without data is kept", "id: 1\ndata: a\n\nid: 5\n\n", []string{"1"}, []string{"5"}, "5"},
		{"empty id resets", "id: 1\ndata: a\n\nid\ndata: b\n\n", []string{"1", ""}, nil, ""},
		{"id with NUL is ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", []string{"1", "1"}, []string{"1"}, "1"},
		{"id of a cut block is not kept", "id: 1\ndata: a\n\nid: 2\n", []string{"1"}, []string{"1"}, "1"},
		// HTTP drops the whitespace around a header value, so the server
		// sees "sp"; the client keeps " sp" as the ID in force.
		{"id with a leading space", "id:  sp\ndata: a\n\n", []string{" sp"}, []string{"sp"}, " sp"},
		{"id with UTF-8", "id: €豆腐\ndata: a\n\n", []string{"€豆腐"}, []string{"€豆腐"}, "€豆腐"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, s := newServer(t, send(tt.first), sendAndHold("data: next\n\n"))
			got := collect(t, &eventsource.Client{Reconnect: fast}, mustRequest(t, "GET", ts.URL, nil), len(tt.wantIDs)+1)
			var ids []string
			for _, ev := range got[:len(tt.wantIDs)] {
				ids = append(ids, ev.ID)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("ids = %q, want %q", ids, tt.wantIDs)
			}
			sent := s.requests()[1].Header.Values("Last-Event-ID")
			if !slices.Equal(sent, tt.wantSent) {
				t.Errorf("reconnection Last-Event-ID = %q, want %q", sent, tt.wantSent)
			}
			// The next connection's event, without an id, reports the ID
			// in force.
			if last := got[len(got)-1].ID; last != tt.wantNext {
				t.Errorf("next connection's event ID = %q, want %q", last, tt.wantNext)
			}
		})
	}
}

// TestFatalResponses checks that the client never reconnects after a status
// other than 200 or a Content-Type other than text/event-stream.
func TestFatalResponses(t *testing.T) {
	contentType := func(ct string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{ct}
			if ct == "" {
				w.Header()["Content-Type"] = nil // no Content-Type at all
			}
			io.WriteString(w, "data: x\n\n")
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(t *testing.T, err error)
	}{
		{"204", status(http.StatusNoContent, ""), func(t *testing.T, err error) {
			if !errors.Is(err, eventsource.ErrNoContent) {
				t.Errorf("err = %v, want ErrNoContent", err)
			}
		}},
		{"500", status(500, "boom\nsecond line"), wantStatus(500, "500 Internal Server Error", "boom\nsecond line")},
		{"401", status(401, "missing token"), wantStatus(401, "401 Unauthorized", "missing token")},
		{"404", status(404, ""), wantStatus(404, "404 Not Found", "")},
		{"201", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(201)
			io.WriteString(w, "data: x\n\n")
		}, wantStatus(201, "201 Created", "data: x\n\n")},
		{"502 by default", status(502, "bad gateway"), wantStatus(502, "502 Bad Gateway", "bad gateway")},
		{"429 by default", status(429, ""), wantStatus(429, "429 Too Many Requests", "")},
		{"application/json", contentType("application/json"), wantContentType("application/json")},
		{"text/plain", contentType("text/plain; charset=utf-8"), wantContentType("text/plain; charset=utf-8")},
		{"text/event-streams", contentType("text/event-streams"), wantContentType("text/event-streams")},
		{"missing", contentType(""), wantContentType("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, s := newServer(t, tt.handler, sendAndHold("data: must not be reached\n\n"))
			var states []eventsource.State
			c := &eventsource.Client{Reconnect: fast, OnStateChange: func(sc eventsource.StateChange) { states = append(states, sc.State) }}
			events, err := final(t.Context(), c, mustRequest(t, "GET", ts.URL, nil))
			if len(events) != 0 {
				t.Errorf("got events %+v", events)
			}
			tt.check(t, err)
			if n := len(s.requests()); n != 1 {
				t.Errorf("%d requests, want 1: the client must not reconnect", n)
			}
			want := []eventsource.State{eventsource.StateConnecting, eventsource.StateClosed}
			if !slices.Equal(states, want) {
				t.Errorf("states = %v, want %v", states, want)
			}
		})
	}
}

func wantStatus(code int, status, body string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *eventsource.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want a *StatusError", err)
		}
		if se.Code != code || se.Status != status || string(se.Body) != body {
			t.Errorf("StatusError = %d %q body %q, want %d %q body %q", se.Code, se.Status, se.Body, code, status, body)
		}
		if want := "eventsource: server responded " + status; err.Error() != want {
			t.Errorf("message = %q, want %q", err.Error(), want)
		}
	}
}

func wantContentType(ct string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ce *eventsource.ContentTypeError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want a *ContentTypeError", err)
		}
		if ce.ContentType != ct {
			t.Errorf("ContentType = %q, want %q", ce.ContentType, ct)
		}
	}
}

func TestContentTypeAccepted(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "text/event-stream; charset=utf-8", "Text/Event-Stream;charset=UTF-8", "text/event-stream; foo"} {
		t.Run(ct, func(t *testing.T) {
			ts, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, "data: ok\n\n")
				http.NewResponseController(w).Flush()
				<-r.Context().Done()
			})
			got := collect(t, &eventsource.Client{}, mustRequest(t, "GET", ts.URL, nil), 1)
			if got[0].Data != "ok" {
				t.Errorf("data = %q", got[0].Data)
			}
		})
	}
}

func TestEventTooLargeIsFatal(t *testing.T) {
	ts, s := newServer(t, send("data: small\n\ndata: "+strings.Repeat("x", 100)+"\n\n"))
	c := &eventsource.Client{Reconnect: fast, MaxEventSize: 50}
	events, err := final(t.Context(), c, mustRequest(t, "GET", ts.URL, nil))
	if len(events) != 1 || events[0].Data != "small" {
		t.Errorf("events = %+v, want the small one", events)
	}
	if !errors.Is(err, sse.ErrEventTooLarge) {
		t.Errorf("err = %v, want ErrEventTooLarge", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestInvalidRequest(t *testing.T) {
	noGetBody := mustRequest(t, "POST", "http://127.0.0.1:1/", strings.NewReader("x"))
	noGetBody.GetBody = nil
	badHeader := mustRequest(t, "GET", "http://127.0.0.1:1/", nil)
	badHeader.Header.Set("X-Bad", "a\x00b")
	tests := map[string]*http.Request{
		"ftp scheme":     mustRequest(t, "GET", "ftp://127.0.0.1/", nil),
		"no host":        mustRequest(t, "GET", "http:///path", nil),
		"body no replay": noGetBody,
		"bad header":     badHeader,
		"nil request":    nil,
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			connects := 0
			c := &eventsource.Client{BeforeConnect: func(context.Context, *http.Request) error { connects++; return nil }}
			_, err := final(t.Context(), c, req)
			if !errors.Is(err, eventsource.ErrInvalidRequest) {
				t.Errorf("err = %v, want ErrInvalidRequest", err)
			}
			if connects != 0 {
				t.Errorf("%d attempts, want none", connects)
			}
		})
	}
}

// TestRedirects checks that redirects are followed, that Last-Event-ID and
// custom headers survive them, and that every reconnection starts again
// from the original URL, as in browsers.
func TestRedirects(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := &script{handlers: []http.HandlerFunc{send("id: 1\ndata: one\n\n"), sendAndHold("data: two\n\n")}}
			mux := http.NewServeMux()
			mux.Handle("/stream", s)
			var starts int
			mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
				starts++
				http.Redirect(w, r, "/stream", code)
			})
			ts := httptest.NewServer(mux)
			defer ts.Close()

			req := mustRequest(t, "POST", ts.URL+"/start", strings.NewReader("body"))
			req.Header.Set("X-Custom", "kept")
			req.Header.Set("Authorization", "Bearer same-host")
			collect(t, &eventsource.Client{Reconnect: fast}, req, 2)

			if starts != 2 {
				t.Errorf("original URL requested %d times, want 2", starts)
			}
			reqs := s.requests()
			keepsBody := code == 307 || code == 308
			for i, r := range reqs {
				if got := r.Header.Get("X-Custom"); got != "kept" {
					t.Errorf("stream request %d X-Custom = %q", i, got)
				}
				if got := r.Header.Get("Authorization"); got != "Bearer same-host" {
					t.Errorf("stream request %d Authorization = %q, want it kept on the same host", i, got)
				}
				if got := r.Header.Get("Accept"); got != "text/event-stream" {
					t.Errorf("stream request %d Accept = %q", i, got)
				}
				if keepsBody && (r.Method != "POST" || r.Body != "body") {
					t.Errorf("stream request %d = %s %q, want POST with the body", i, r.Method, r.Body)
				}
				if !keepsBody && (r.Method != "GET" || r.Body != "") {
					t.Errorf("stream request %d = %s %q, want GET without body", i, r.Method, r.Body)
				}
			}
			if got := reqs[1].Header.Get("Last-Event-ID"); got != "1" {
				t.Errorf("Last-Event-ID after redirect = %q, want %q", got, "1")
			}
		})
	}
}

// TestRedirectToOtherHostDropsCredentials documents Go's rule, which the
// client keeps: Authorization and Cookie do not follow a redirect to a host
// that is not the original one or its subdomain; other headers do.
func TestRedirectToOtherHostDropsCredentials(t *testing.T) {
	s := &script{handlers: []http.HandlerFunc{send("id: 1\ndata: one\n\n"), sendAndHold("data: two\n\n")}}
	mux := http.NewServeMux()
	mux.Handle("other.test/stream", s)
	mux.Handle("api.origin.test/stream", s)
	mux.HandleFunc("origin.test/start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusTemporaryRedirect)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	// Every host name resolves to the test server.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, ts.Listener.Addr().String())
	}}
	defer tr.CloseIdleConnections()
	c := &eventsource.Client{HTTPClient: &http.Client{Transport: tr}, Reconnect: fast}

	for _, tt := range []struct {
		to                   string
		wantAuth, wantCookie string
	}{
		{"http://other.test/stream", "", ""},
		{"http://api.origin.test/stream", "Bearer t", "session=1"},
	} {
		s.mu.Lock()
		s.reqs = nil
		s.mu.Unlock()
		req := mustRequest(t, "GET", "http://origin.test/start?to="+tt.to, nil)
		req.Header.Set("Authorization", "Bearer t")
		req.Header.Set("Cookie", "session=1")
		req.Header.Set("X-Custom", "kept")
		collect(t, c, req, 2)
		for i, r := range s.requests() {
			if got := r.Header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("%s: request %d Authorization = %q, want %q", tt.to, i, got, tt.wantAuth)
			}
			if got := r.Header.Get("Cookie"); got != tt.wantCookie {
				t.Errorf("%s: request %d Cookie = %q, want %q", tt.to, i, got, tt.wantCookie)
			}
			if got := r.Header.Get("X-Custom"); got != "kept" {
				t.Errorf("%s: request %d X-Custom = %q, want kept", tt.to, i, got)
			}
		}
		if got := s.requests()[1].Header.Get("Last-Event-ID"); got != "1" {
			t.Errorf("%s: Last-Event-ID = %q, want 1", tt.to, got)
		}
	}
}

func TestRedirectLoopIsFatal(t *testing.T) {
	ts, s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/again", http.StatusFound)
	})
	_, err := final(t.Context(), &eventsource.Client{Reconnect: fast}, mustRequest(t, "GET", ts.URL, nil))
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("err = %v, want the redirect policy's error", err)
	}
	// Go's default policy sends 10 requests, then stops; no reconnection.
	if n := len(s.requests()); n != 10 {
		t.Errorf("%d requests, want 10: one attempt", n)
	}
}

func TestBeforeConnectRunsBeforeEveryAttempt(t *testing.T) {
	ts, s := newServer(t, send("data: one\n\n"), send("data: two\n\n"), sendAndHold("data: three\n\n"))
	n := 0
	c := &eventsource.Client{Reconnect: fast, BeforeConnect: func(ctx context.Context, req *http.Request) error {
		n++
		req.Header.Set("Authorization", fmt.Sprintf("Bearer token-%d", n))
		return nil
	}}
	collect(t, c, mustRequest(t, "GET", ts.URL, nil), 3)
	var got []string
	for _, r := range s.requests() {
		got = append(got, r.Header.Get("Authorization"))
	}
	if want := []string{"Bearer token-1", "Bearer token-2", "Bearer token-3"}; !slices.Equal(got, want) {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
}

func TestBeforeConnectErrorIsFatal(t *testing.T) {
	ts, s := newServer(t, send("data: one\n\n"))
	errRefresh := errors.New("token refresh failed")
	n := 0
	c := &eventsource.Client{Reconnect: fast, BeforeConnect: func(ctx context.Context, req *http.Request) error {
		if n++; n == 2 {
			return errRefresh
		}
		return nil
	}}
	events, err := final(t.Context(), c, mustRequest(t, "GET", ts.URL, nil))
	if len(events) != 1 || !errors.Is(err, errRefresh) {
		t.Errorf("events %+v, err %v; want one event, then the hook's error", events, err)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

// TestStatesAndResponseHeaders checks the state notifications of a stream
// that ends once and the response each StateOpen carries.
func TestStatesAndResponseHeaders(t *testing.T) {
	withHeader := func(v string, h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Last-Event-ID", v)
			h(w, r)
		}
	}
	ts, _ := newServer(t, withHeader("earliest", send("data: one\n\n")), withHeader("42", sendAndHold("data: two\n\n")))
	var got []string
	c := &eventsource.Client{Reconnect: fast, OnStateChange: func(sc eventsource.StateChange) {
		s := fmt.Sprintf("%v#%d", sc.State, sc.Attempt)
		switch sc.State {
		case eventsource.StateOpen:
			s += " " + sc.Response.Status + " " + sc.Response.Header.Get("Last-Event-ID")
		case eventsource.StateReconnecting:
			s += fmt.Sprintf(" failures=%d delay=%v err=%v", sc.Failures, sc.Delay, sc.Err)
		case eventsource.StateClosed:
			s += fmt.Sprintf(" err=%v", sc.Err)
		}
		got = append(got, s)
	}}
	collect(t, c, mustRequest(t, "GET", ts.URL, nil), 2)
	want := []string{
		"connecting#1",
		"open#1 200 OK earliest",
		"reconnecting#2 failures=1 delay=1ms err=eventsource: server closed the stream",
		"connecting#2",
		"open#2 200 OK 42",
		"closed#2 err=<nil>",
	}
	if !slices.Equal(got, want) {
		t.Errorf("states:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConnectionRefusedIsRetriedThenGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	var reconnecting []error
	c := &eventsource.Client{
		Reconnect: eventsource.Reconnect{Delay: time.Millisecond, Jitter: -1, MaxRetries: 3},
		OnStateChange: func(sc eventsource.StateChange) {
			if sc.State == eventsource.StateReconnecting {
				reconnecting = append(reconnecting, sc.Err)
			}
		},
	}
	_, err = final(t.Context(), c, mustRequest(t, "GET", "http://"+addr+"/", nil))
	if !errors.Is(err, eventsource.ErrGaveUp) {
		t.Fatalf("err = %v, want ErrGaveUp", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("err = %v, want it to wrap the network error", err)
	}
	if len(reconnecting) != 3 {
		t.Errorf("%d reconnections, want 3 (MaxRetries)", len(reconnecting))
	}
	for _, e := range reconnecting {
		if !errors.As(e, &opErr) {
			t.Errorf("reconnecting after %v, want a network error", e)
		}
	}
}

func TestUntrustedCertificateIsFatal(t *testing.T) {
	ts := httptest.NewUnstartedServer(send("data: x\n\n"))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake error is expected
	ts.StartTLS()
	defer ts.Close()
	n := 0
	c := &eventsource.Client{Reconnect: fast, BeforeConnect: func(context.Context, *http.Request) error { n++; return nil }}
	_, err := final(t.Context(), c, mustRequest(t, "GET", ts.URL, nil))
	if err == nil || n != 1 {
		t.Errorf("err = %v after %d attempts, want a certificate error after 1", err, n)
	}
}

// TestCancelMidStream cancels the context while the client waits for the
// next event: the sequence yields ctx.Err() and nothing is left running.
func TestCancelMidStream(t *testing.T) {
	ts, _ := newServer(t, sendAndHold("data: one\n\n"))
	defer verifyClientGone(t)()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []sse.Event
	var last error
	for ev, err := range (&eventsource.Client{}).Events(ctx, mustRequest(t, "GET", ts.URL, nil)) {
		if err != nil {
			last = err
			continue // a sequence yields nothing after its error
		}
		got = append(got, ev)
		cancel()
	}
	if len(got) != 1 || !errors.Is(last, context.Canceled) {
		t.Errorf("events %+v, err %v; want one event then context.Canceled", got, last)
	}
}

// TestCancelDuringBackoffLeavesNothing cancels the context while the client
// waits an hour to reconnect: the sequence ends at once, leaving nothing
// running (the fake-clock version is in timing_test.go).
func TestCancelDuringBackoffLeavesNothing(t *testing.T) {
	ts, _ := newServer(t, send("data: one\n\n"))
	defer verifyClientGone(t)()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := &eventsource.Client{
		Reconnect: eventsource.Reconnect{Delay: time.Hour},
		OnStateChange: func(sc eventsource.StateChange) {
			if sc.State == eventsource.StateReconnecting {
				cancel()
			}
		},
	}
	events, err := final(ctx, c, mustRequest(t, "GET", ts.URL, nil))
	if len(events) != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("events %+v, err %v; want one event then context.Canceled", events, err)
	}
}

// verifyClientGone returns a function that fails the test if a goroutine
// started since, other than the test server's, is still running: it checks
// that no client connection outlives a sequence while the server still
// keeps its side open.
func verifyClientGone(t *testing.T) func() {
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http.(*connReader).backgroundRead"),
	}
	return func() { goleak.VerifyNone(t, opts...) }
}

// TestBreakClosesConnection stops iterating: the server sees the request end.
func TestBreakClosesConnection(t *testing.T) {
	gone := make(chan struct{})
	ts, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sendAndHold("data: one\n\n")(w, r)
		close(gone)
	})
	defer verifyClientGone(t)()
	var closed []error
	c := &eventsource.Client{OnStateChange: func(sc eventsource.StateChange) {
		if sc.State == eventsource.StateClosed {
			closed = append(closed, sc.Err)
		}
	}}
	for range c.Events(t.Context(), mustRequest(t, "GET", ts.URL, nil)) {
		break
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still holds the request after the loop ended")
	}
	if len(closed) != 1 || closed[0] != nil {
		t.Errorf("closed states %v, want one with a nil error", closed)
	}
}

// TestSharedHTTPClient runs with the caller's HTTP client: its connection
// is closed when the caller stops.
func TestSharedHTTPClient(t *testing.T) {
	gone := make(chan struct{})
	ts, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sendAndHold("data: one\n\n")(w, r)
		close(gone)
	})
	c := &eventsource.Client{HTTPClient: ts.Client()}
	collect(t, c, mustRequest(t, "GET", ts.URL, nil), 1)
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still holds the request after the loop ended")
	}
}

// endless answers code with a body that never ends: it writes chunk, flushes
// and waits for the client to go, then closes gone.
func endless(code int, contentType, chunk string, gone chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer close(gone)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(code)
		io.WriteString(w, chunk)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}
}

// TestFatalStatusWithEndlessBody: a refused response whose body never ends
// (a stream answered with 201, an error page that never completes) ends
// the sequence at once and closes the connection without reading the body.
func TestFatalStatusWithEndlessBody(t *testing.T) {
	for _, tt := range []struct {
		code        int
		contentType string
	}{
		{201, "text/event-stream"},
		{401, "text/plain; charset=utf-8"},
		{500, "text/html"},
	} {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			gone := make(chan struct{})
			ts, s := newServer(t, endless(tt.code, tt.contentType, "data: x\n\n", gone))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			events, err := final(ctx, &eventsource.Client{Reconnect: fast}, mustRequest(t, "GET", ts.URL, nil))
			var se *eventsource.StatusError
			if !errors.As(err, &se) || se.Code != tt.code || len(events) != 0 {
				t.Fatalf("events %+v, err %v; want a StatusError %d at once", events, err, tt.code)
			}
			if len(se.Body) != 0 {
				t.Errorf("Body = %q: a body of unknown length must not be read", se.Body)
			}
			select {
			case <-gone:
			case <-ctx.Done():
				t.Fatal("the server still holds the request: the connection was not closed")
			}
			if n := len(s.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestErrorBodyStartIsKept: a refused response that declares its length
// keeps the start of its body (at most 1 KiB) for error messages.
func TestErrorBodyStartIsKept(t *testing.T) {
	long := strings.Repeat("x", 5000)
	ts, _ := newServer(t, status(401, "missing token\n"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(long)))
		status(403, long)(w, r)
	})
	c := &eventsource.Client{Reconnect: fast}
	_, err := final(t.Context(), c, mustRequest(t, "GET", ts.URL, nil))
	wantStatus(401, "401 Unauthorized", "missing token\n")(t, err)
	_, err = final(t.Context(), c, mustRequest(t, "GET", ts.URL, nil))
	wantStatus(403, "403 Forbidden", long[:1024])(t, err)
}

// TestComments: with OnComment, the caller receives every comment line, in
// order with the events, on the iterating goroutine; the events are the
// same as without it.
func TestComments(t *testing.T) {
	const stream = ": hello\n:\ndata: a\n:inside\ndata: b\n\n: heartbeat\r\n"
	ts, _ := newServer(t,
		send(stream),
		sendAndHold("\xEF\xBB\xBF:after reconnect\ndata: c\n\n"))
	var got []string
	c := &eventsource.Client{Reconnect: fast, OnComment: func(text string) { got = append(got, "comment "+text) }}
	for ev, err := range c.Events(t.Context(), mustRequest(t, "GET", ts.URL, nil)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, "event "+ev.Data)
		if ev.Data == "c" {
			break
		}
	}
	want := []string{"comment hello", "comment ", "comment inside", "event a\nb", "comment heartbeat", "comment after reconnect", "event c"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	plain := collect(t, &eventsource.Client{}, mustRequest(t, "GET", ts.URL, nil), 1)
	if plain[0].Data != "c" {
		t.Errorf("without OnComment: %+v", plain[0])
	}
}

// TestTransientStatusRetried: with RetryTransient, a gateway's 502 (a hub
// restarting behind a proxy) is a failed attempt like a refused
// connection: the client reconnects, reports the status, and resumes with
// the last event ID.
func TestTransientStatusRetried(t *testing.T) {
	gone := make(chan struct{})
	ts, s := newServer(t,
		send("id: 1\ndata: one\n\n"),
		status(502, "<html>bad gateway</html>"),
		endless(503, "text/html", "<html>", gone), // never read
		status(504, ""),
		sendAndHold("data: two\n\n"))
	var errs []error
	var failures []int
	policy := fast
	policy.RetryTransient = true
	c := &eventsource.Client{Reconnect: policy, OnStateChange: func(sc eventsource.StateChange) {
		if sc.State == eventsource.StateReconnecting {
			errs, failures = append(errs, sc.Err), append(failures, sc.Failures)
		}
	}}
	got := collect(t, c, mustRequest(t, "GET", ts.URL, nil), 2)
	if got[1] != (sse.Event{ID: "1", Type: "message", Data: "two"}) {
		t.Errorf("event after the outage = %+v", got[1])
	}
	reqs := s.requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(reqs))
	}
	for i, r := range reqs[1:] {
		if got := r.Header.Get("Last-Event-ID"); got != "1" {
			t.Errorf("request %d Last-Event-ID = %q, want 1", i+2, got)
		}
	}
	var codes []int
	for _, err := range errs[1:] {
		var se *eventsource.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("reconnecting after %v, want a *StatusError", err)
		}
		codes = append(codes, se.Code)
	}
	if want := []int{502, 503, 504}; !slices.Equal(codes, want) {
		t.Errorf("reconnected after statuses %v, want %v", codes, want)
	}
	// Failed attempts in a row, for the backoff.
	if want := []int{1, 2, 3, 4}; !slices.Equal(failures, want) {
		t.Errorf("failures = %v, want %v", failures, want)
	}
	<-gone
}

// TestTransientStatusStillFatalWhenNotTransient: with RetryTransient, other
// statuses still end the sequence, and MaxRetries still gives up, with the
// last status.
func TestTransientStatusStillFatalWhenNotTransient(t *testing.T) {
	policy := fast
	policy.RetryTransient = true
	for _, code := range []int{400, 401, 403, 404, 500, 501} {
		ts, s := newServer(t, status(code, ""), sendAndHold("data: never\n\n"))
		_, err := final(t.Context(), &eventsource.Client{Reconnect: policy}, mustRequest(t, "GET", ts.URL, nil))
		var se *eventsource.StatusError
		if !errors.As(err, &se) || se.Code != code || len(s.requests()) != 1 {
			t.Errorf("%d: err %v after %d requests, want its StatusError after 1", code, err, len(s.requests()))
		}
	}

	policy.MaxRetries = 2
	ts, s := newServer(t, status(503, "down"))
	_, err := final(t.Context(), &eventsource.Client{Reconnect: policy}, mustRequest(t, "GET", ts.URL, nil))
	var se *eventsource.StatusError
	if !errors.Is(err, eventsource.ErrGaveUp) || !errors.As(err, &se) || se.Code != 503 {
		t.Fatalf("err = %v, want ErrGaveUp with the 503", err)
	}
	if want := "eventsource: gave up reconnecting after 3 failed attempts in a row: server responded 503 Service Unavailable"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	if n := len(s.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

// TestDeployBehindProxy: the hub behind a proxy restarts; the proxy cuts
// the stream and answers 502 until the new hub is up. With RetryTransient
// the client rides it out and resumes with the last event ID; without, the
// 502 ends the sequence as in a browser.
func TestDeployBehindProxy(t *testing.T) {
	old, _ := newServer(t, sendAndHold("id: 1\ndata: one\n\n"))
	next, nextReqs := newServer(t, sendAndHold("id: 2\ndata: two\n\n"))
	p := newProxy(t, old.URL)
	down := deadAddr(t)

	for _, retry := range []bool{true, false} {
		t.Run(fmt.Sprint("RetryTransient=", retry), func(t *testing.T) {
			p.to(old.URL)
			policy := fast
			policy.RetryTransient = retry
			bad := 0
			c := &eventsource.Client{Reconnect: policy, OnStateChange: func(sc eventsource.StateChange) {
				var se *eventsource.StatusError
				if sc.State == eventsource.StateReconnecting && errors.As(sc.Err, &se) && se.Code == http.StatusBadGateway {
					if bad++; bad == 3 {
						p.to(next.URL) // the new hub is up
					}
				}
			}}
			var got []sse.Event
			var last error
			for ev, err := range c.Events(t.Context(), mustRequest(t, "GET", p.URL, nil)) {
				if err != nil {
					last = err
					break
				}
				got = append(got, ev)
				if ev.Data == "one" {
					p.to(down)                   // the old hub stops...
					old.CloseClientConnections() // ...and its streams end
				}
				if ev.Data == "two" {
					break
				}
			}
			if !retry {
				var se *eventsource.StatusError
				if !errors.As(last, &se) || se.Code != http.StatusBadGateway || len(got) != 1 {
					t.Errorf("events %+v, err %v; want one event, then the 502", got, last)
				}
				return
			}
			if last != nil || len(got) != 2 || bad != 3 {
				t.Fatalf("events %+v, err %v after %d 502s", got, last, bad)
			}
			reqs := nextReqs.requests()
			if id := reqs[len(reqs)-1].Header.Get("Last-Event-ID"); id != "1" {
				t.Errorf("the new hub got Last-Event-ID %q, want 1", id)
			}
		})
	}
}
