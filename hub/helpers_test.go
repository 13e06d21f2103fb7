package hub_test

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// waitTimeout bounds every wait for something a test expects to happen.
const waitTimeout = 5 * time.Second

// The HMAC secrets test hubs verify tokens with: one for publishers, another
// for subscribers.
var (
	pubKey = []byte("publisher secret of the hub tests")
	subKey = []byte("subscriber secret of the hub tests")
)

// mode is one way a stream reaches its subscriber. All three must deliver
// the same bytes.
type mode struct {
	name     string
	noHijack bool // hub.Options.NoHijack: stream through the ResponseWriter
	http2    bool // TLS + HTTP/2: never hijacked
}

var modes = []mode{
	{name: "http1-hijack"},
	{name: "http1-nohijack", noHijack: true},
	{name: "http2", http2: true},
}

// envConfig describes a test hub. The zero value is a hub on HTTP/1.1 with a
// memory store, HMAC keys pubKey and subKey, and every default.
type envConfig struct {
	mode  mode
	hub   hub.Options
	cfg   mercure.Config // Hub is set by newEnv; nil verifiers get HMAC ones
	store herald.Store   // nil: a new memory store
	// listener, when set, wraps the server's listener (before TLS).
	listener func(net.Listener) net.Listener
}

// env is a running hub behind a real HTTP server.
type env struct {
	ts      *httptest.Server
	handler http.Handler // what ts serves
	hub     *hub.Hub
	store   herald.Store
	client  *http.Client
	url     string // the hub's URL: ts.URL + mercure.Path
}

func newEnv(t testing.TB, c envConfig) *env {
	t.Helper()
	st := c.store
	if st == nil {
		st = memory.New(memory.Options{})
	}
	opts := c.hub
	opts.NoHijack = opts.NoHijack || c.mode.noHijack
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := hub.New(st, opts)
	cfg := c.cfg
	cfg.Hub = h
	if cfg.Publishers == nil {
		cfg.Publishers = hmacVerifier(t, pubKey)
	}
	if cfg.Subscribers == nil {
		cfg.Subscribers = hmacVerifier(t, subKey)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mh, err := mercure.New(cfg)
	if err != nil {
		t.Fatalf("mercure.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(mercure.Path, mh)
	mux.Handle(mercure.Path+"/", mh)
	ts := httptest.NewUnstartedServer(mux)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if c.listener != nil {
		ts.Listener = c.listener(ts.Listener)
	}
	if c.mode.http2 {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	e := &env{ts: ts, handler: mux, hub: h, store: st, client: ts.Client(), url: ts.URL + mercure.Path}
	// Registered first, so it runs last: after every stream's cleanup
	// (STYLE 15: streams end before ts.Close, which waits for them).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		ts.Close()
		_ = st.Close()
	})
	return e
}

func hmacVerifier(t testing.TB, key []byte) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{key}})
	if err != nil {
		t.Fatalf("auth.NewVerifier: %v", err)
	}
	return v
}

// sign mints an HS256 token with key.
func sign(t testing.TB, key []byte, g auth.Grant) string {
	t.Helper()
	tok, err := auth.Sign("HS256", key, g)
	if err != nil {
		t.Fatalf("auth.Sign: %v", err)
	}
	return tok
}

// publisherToken may publish to every topic.
func publisherToken(t testing.TB) string {
	return sign(t, pubKey, auth.Grant{Publish: []string{"*"}})
}

// subscriberToken may receive private updates about the topics selectors
// select.
func subscriberToken(t testing.TB, selectors ...string) string {
	return sign(t, subKey, auth.Grant{Subscribe: selectors})
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// post sends a publish request with body and headers as given, and returns
// the response with its body read.
func (e *env) post(t testing.TB, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", e.url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the publish response: %v", err)
	}
	return resp, string(b)
}

// publish publishes form with a token that may publish anywhere, requires a
// 200 text/plain answer, and returns the update's id.
func (e *env) publish(t testing.TB, form url.Values) string {
	t.Helper()
	resp, body := e.post(t, form.Encode(), bearer(publisherToken(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish %v: %s: %s", form, resp.Status, body)
	}
	if mt := mediaType(resp); mt != "text/plain" {
		t.Fatalf("publish answered with Content-Type %q, want text/plain", resp.Header.Get("Content-Type"))
	}
	if body == "" {
		t.Fatal("publish answered with an empty id")
	}
	return body
}

// publishData publishes data to topics (the first canonical).
func (e *env) publishData(t testing.TB, data string, topics ...string) string {
	t.Helper()
	return e.publish(t, url.Values{"topic": topics, "data": {data}})
}

func mediaType(resp *http.Response) string {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt
}

// get sends a GET to the hub's URL + suffix (a query or a sub-path) and
// returns the response; the caller closes its body. ctx ends the request.
func (e *env) get(t testing.TB, ctx context.Context, suffix string, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+suffix, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", suffix, err)
	}
	return resp
}

// getText sends a GET and returns the response with its body read.
func (e *env) getText(t testing.TB, suffix string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp := e.get(t, ctx, suffix, hdr)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", suffix, err)
	}
	return resp, string(b)
}

// topics builds the query of a subscription to selectors.
func topics(selectors ...string) string {
	return url.Values{"topic": selectors}.Encode()
}

// stream is an open subscription, read by its own goroutine with the real
// sse.Decoder.
type stream struct {
	resp   *http.Response
	dec    *sse.Decoder
	cancel context.CancelFunc
	events chan sse.Event
	done   chan struct{} // closed when the reader stops; err is then set
	err    error         // io.EOF for a clean end
}

// subscribe opens a stream with query, requires a 200 text/event-stream
// answer, and ends the stream when the test ends.
func (e *env) subscribe(t testing.TB, query string, hdr http.Header) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp := e.get(t, ctx, "?"+query, hdr)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe ?%s: %s: %s", query, resp.Status, b)
	}
	if mt := mediaType(resp); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe answered with Content-Type %q", resp.Header.Get("Content-Type"))
	}
	return startStream(t, resp, cancel)
}

// startStream reads resp's events in a goroutine until the stream ends or
// the test does.
func startStream(t testing.TB, resp *http.Response, cancel context.CancelFunc) *stream {
	s := &stream{
		resp:   resp,
		dec:    sse.NewDecoder(resp.Body),
		cancel: cancel,
		events: make(chan sse.Event, 1<<14),
		done:   make(chan struct{}),
	}
	stop := make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			ev, err := s.dec.Decode()
			if err != nil {
				s.err = err
				return
			}
			select {
			case s.events <- ev:
			case <-stop:
				s.err = errors.New("stopped by the test")
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		s.close()
		select {
		case <-s.done:
		case <-time.After(waitTimeout):
			t.Errorf("a stream's reader did not stop within %v of its cancellation", waitTimeout)
		}
	})
	return s
}

// close ends the stream from the client's side.
func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event, failing the test if none comes in time or
// the stream ends.
func (s *stream) next(t testing.TB) sse.Event {
	t.Helper()
	ev, err := s.nextErr()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// nextErr is next for goroutines other than the test's.
func (s *stream) nextErr() (sse.Event, error) {
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case ev := <-s.events:
		return ev, nil
	case <-s.done:
		select {
		case ev := <-s.events:
			return ev, nil
		default:
		}
		return sse.Event{}, errors.New("the stream ended while an event was awaited: " + s.err.Error())
	case <-timer.C:
		return sse.Event{}, errors.New("no event within " + waitTimeout.String())
	}
}

// until returns the events up to and including the one with id.
func (s *stream) until(t testing.TB, id string) []sse.Event {
	t.Helper()
	var evs []sse.Event
	for {
		ev := s.next(t)
		evs = append(evs, ev)
		if ev.ID == id {
			return evs
		}
	}
}

// end waits for the stream to end (from the server's side) and returns the
// events that were still unread and the reader's final error.
func (s *stream) end(t testing.TB) ([]sse.Event, error) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var evs []sse.Event
	for {
		select {
		case ev := <-s.events:
			evs = append(evs, ev)
		case <-s.done:
			for {
				select {
				case ev := <-s.events:
					evs = append(evs, ev)
				default:
					return evs, s.err
				}
			}
		case <-timer.C:
			t.Fatalf("the stream did not end within %v", waitTimeout)
		}
	}
}

// datas returns the Data of each event.
func datas(evs []sse.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Data
	}
	return out
}

// ids returns the ID of each event.
func ids(evs []sse.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// sentinel is a topic every test subscription selects, so that a test can
// publish to it to know that everything before has been delivered.
const sentinel = "urn:test:sentinel"

// flush publishes to the sentinel topic and returns the events s received up
// to it, the sentinel excluded.
func (e *env) flush(t testing.TB, subs ...*stream) [][]sse.Event {
	t.Helper()
	id := e.publishData(t, "sentinel", sentinel)
	out := make([][]sse.Event, len(subs))
	for i, s := range subs {
		evs := s.until(t, id)
		out[i] = evs[:len(evs)-1]
	}
	return out
}

// discard is a logger that drops everything.
var discard = slog.New(slog.DiscardHandler)

// update is an update to topic with data.
func update(topic, data string) herald.Update {
	return herald.Update{Topics: []string{topic}, Data: data}
}
