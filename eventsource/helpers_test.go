package eventsource_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/sse"
)

// request is what a test server saw of one request.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   string
	Time   time.Time
}

// script serves the n-th request (from 0) with handlers[n], or with the last
// handler once they run out, and records every request.
type script struct {
	handlers []http.HandlerFunc

	mu   sync.Mutex
	reqs []request
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body), Time: time.Now()})
	s.mu.Unlock()
	s.handlers[min(n, len(s.handlers)-1)](w, r)
}

// requests returns the requests seen so far.
func (s *script) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// newServer starts a real HTTP server running a script of handlers.
func newServer(t *testing.T, handlers ...http.HandlerFunc) (*httptest.Server, *script) {
	t.Helper()
	s := &script{handlers: handlers}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, s
}

// send returns a handler that answers 200 text/event-stream, writes each
// chunk with a flush and returns, which ends the response cleanly.
func send(chunks ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		rc.Flush()
		for _, c := range chunks {
			io.WriteString(w, c)
			rc.Flush()
		}
	}
}

// sendAndHold is send, but the response stays open until the client goes.
func sendAndHold(chunks ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		send(chunks...)(w, r)
		<-r.Context().Done()
	}
}

// sendAndCut writes chunks and then cuts the TCP connection abruptly, in the
// middle of the chunked body.
func sendAndCut(chunks ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		send(chunks...)(w, r)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close()
	}
}

// status answers with code, a text body and no stream.
func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// fast is a policy for real-network tests: reconnect almost at once.
var fast = eventsource.Reconnect{Delay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Jitter: -1}

// mustRequest returns a GET request for url.
func mustRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// collect iterates c.Events until it has n events, then stops. It fails the
// test if the sequence ends before, or if the events do not come within 30
// seconds.
func collect(t *testing.T, c *eventsource.Client, req *http.Request, n int) []sse.Event {
	t.Helper()
	return collectWithin(t, 30*time.Second, c, req, n)
}

// collectWithin is collect with a time limit of d (on synctest's fake clock
// in a bubble).
func collectWithin(t *testing.T, d time.Duration, c *eventsource.Client, req *http.Request, n int) []sse.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var got []sse.Event
	if n == 0 {
		return nil
	}
	for ev, err := range c.Events(ctx, req) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		got = append(got, ev)
		if len(got) == n {
			break
		}
	}
	return got
}

// final iterates c.Events to its end and returns the events and the error
// it ended with.
func final(ctx context.Context, c *eventsource.Client, req *http.Request) ([]sse.Event, error) {
	var got []sse.Event
	for ev, err := range c.Events(ctx, req) {
		if err != nil {
			return got, err
		}
		got = append(got, ev)
	}
	return got, errors.New("sequence ended without an error")
}

// memNet is an in-memory network for synctest bubbles, where real sockets
// cannot be used: DialContext hands one end of a net.Pipe to Accept.
type memNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemNet() *memNet {
	return &memNet{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memNet) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memNet) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memNet) Addr() net.Addr { return memAddr{} }

func (l *memNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, errors.New("connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

// newMemServer serves h on an in-memory network inside the current synctest
// bubble and returns an HTTP client connected to it (any URL reaches h).
// Everything is shut down when the test ends.
func newMemServer(t *testing.T, h http.Handler) *http.Client {
	l := newMemNet()
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	tr := &http.Transport{DialContext: l.DialContext}
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return &http.Client{Transport: tr}
}

// proxy is a reverse proxy in front of a hub, as nginx is in production: it
// streams, and answers 502 Bad Gateway while its upstream is down.
type proxy struct {
	*httptest.Server
	upstream atomic.Pointer[url.URL]
}

// newProxy starts a proxy to upstream.
func newProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	p := &proxy{}
	p.to(upstream)
	rp := &httputil.ReverseProxy{
		Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(p.upstream.Load()) },
		ErrorLog: log.New(io.Discard, "", 0), // the 502s are expected
	}
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

// to sends the next requests to upstream.
func (p *proxy) to(upstream string) {
	u, err := url.Parse(upstream)
	if err != nil {
		panic(err)
	}
	p.upstream.Store(u)
}

// deadAddr returns the URL of a loopback port nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
