// Package hubtest runs a Herald hub behind a real HTTP server for the
// end-to-end tests of the hub and mercure packages: it starts the hub, mints
// tokens, publishes, and reads subscriptions with the real sse.Decoder.
//
// It is meant for tests only: every helper takes the test's testing.TB and
// fails it (t.Fatal) when something it requires does not hold, and
// everything it starts is stopped by the test's cleanup.
package hubtest

import (
	"context"
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
	"github.com/herald-sse/herald/store/memory"
)

// WaitTimeout bounds every wait for something a test expects to happen.
const WaitTimeout = 5 * time.Second

// The HMAC secrets test hubs verify tokens with: PubKey for publishers,
// SubKey for subscribers. A token signed with one is rejected by the other.
var (
	PubKey = []byte("publisher secret of the end-to-end tests")
	SubKey = []byte("subscriber secret of the end-to-end tests")
)

// Mode is one way a stream reaches its subscriber. All of Modes must deliver
// the same bytes.
type Mode struct {
	Name     string
	NoHijack bool // hub.Options.NoHijack: stream through the ResponseWriter
	HTTP2    bool // TLS + HTTP/2: never hijacked
}

// Modes are the ways a stream can reach its subscriber: HTTP/1.1 with the
// connection hijacked, HTTP/1.1 through the ResponseWriter, and HTTP/2.
var Modes = []Mode{
	{Name: "http1-hijack"},
	{Name: "http1-nohijack", NoHijack: true},
	{Name: "http2", HTTP2: true},
}

// Config describes a test hub. The zero value is a hub on HTTP/1.1 with a
// new memory store, HMAC keys PubKey and SubKey, and every default.
type Config struct {
	Mode    Mode
	Hub     hub.Options    // NoHijack is also set by Mode; a nil Logger discards
	Mercure mercure.Config // Hub is set by New; nil verifiers get HMAC ones, a nil Logger discards
	Store   herald.Store   // nil: a new memory store; closed when the test ends
	// Listener, when set, wraps the server's listener (before TLS).
	Listener func(net.Listener) net.Listener
}

// Env is a running hub behind a real HTTP server, which serves the mercure
// handler at mercure.Path and below.
type Env struct {
	Server  *httptest.Server
	Handler http.Handler // what Server serves
	Hub     *hub.Hub
	Store   herald.Store
	Client  *http.Client // a client of Server (trusting its certificate)
	URL     string       // the hub's URL: Server.URL + mercure.Path
}

// New starts a hub as c describes. When the test ends (after the cleanups
// of every stream it opened), the hub is closed, which must succeed within
// WaitTimeout, then the server and the store are.
func New(t testing.TB, c Config) *Env {
	t.Helper()
	st := c.Store
	if st == nil {
		st = memory.New(memory.Options{})
	}
	opts := c.Hub
	opts.NoHijack = opts.NoHijack || c.Mode.NoHijack
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := hub.New(st, opts)
	cfg := c.Mercure
	cfg.Hub = h
	if cfg.Publishers == nil {
		cfg.Publishers = HMACVerifier(t, PubKey)
	}
	if cfg.Subscribers == nil {
		cfg.Subscribers = HMACVerifier(t, SubKey)
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
	if c.Listener != nil {
		ts.Listener = c.Listener(ts.Listener)
	}
	if c.Mode.HTTP2 {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	e := &Env{Server: ts, Handler: mux, Hub: h, Store: st, Client: ts.Client(), URL: ts.URL + mercure.Path}
	// Registered first, so it runs last: after every stream's cleanup
	// (STYLE 15: streams end before ts.Close, which waits for them).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		ts.Close()
		_ = st.Close()
	})
	return e
}

// HMACVerifier returns a verifier of HMAC tokens signed with key.
func HMACVerifier(t testing.TB, key []byte) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{key}})
	if err != nil {
		t.Fatalf("auth.NewVerifier: %v", err)
	}
	return v
}

// Sign mints an HS256 token with key.
func Sign(t testing.TB, key []byte, g auth.Grant) string {
	t.Helper()
	tok, err := auth.Sign("HS256", key, g)
	if err != nil {
		t.Fatalf("auth.Sign: %v", err)
	}
	return tok
}

// PublisherToken returns a token that may publish to every topic.
func PublisherToken(t testing.TB) string {
	return Sign(t, PubKey, auth.Grant{Publish: []string{"*"}})
}

// SubscriberToken returns a token that may receive private updates about
// the topics selectors select.
func SubscriberToken(t testing.TB, selectors ...string) string {
	return Sign(t, SubKey, auth.Grant{Subscribe: selectors})
}

// Bearer returns the header that presents tok as a bearer token.
func Bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// Post sends a publish request with body (a form, as Content-Type says
// unless hdr overrides it) and the headers in hdr, and returns the response
// with its body read and closed, whatever its status.
func (e *Env) Post(t testing.TB, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", e.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the publish response: %v", err)
	}
	return resp, string(b)
}

// Publish publishes form with a token that may publish anywhere, requires a
// 200 text/plain answer with a non-empty body, and returns that body: the
// update's id.
func (e *Env) Publish(t testing.TB, form url.Values) string {
	t.Helper()
	resp, body := e.Post(t, form.Encode(), Bearer(PublisherToken(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish %v: %s: %s", form, resp.Status, body)
	}
	if mt := MediaType(resp); mt != "text/plain" {
		t.Fatalf("publish answered with Content-Type %q, want text/plain", resp.Header.Get("Content-Type"))
	}
	if body == "" {
		t.Fatal("publish answered with an empty id")
	}
	return body
}

// PublishData publishes a public update of data to topics (the first
// canonical) as Publish does, and returns its id.
func (e *Env) PublishData(t testing.TB, data string, topics ...string) string {
	t.Helper()
	return e.Publish(t, url.Values{"topic": topics, "data": {data}})
}

// MediaType returns the media type of resp's Content-Type, without
// parameters; "" when there is none or it does not parse.
func MediaType(resp *http.Response) string {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt
}

// Get sends a GET with the headers in hdr to the hub's URL + suffix (a query
// or a sub-path) and returns the response, whatever its status; the caller
// closes its body. ctx ends the request.
func (e *Env) Get(t testing.TB, ctx context.Context, suffix string, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+suffix, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", suffix, err)
	}
	return resp
}

// GetText sends a GET as Get does and returns the response with its body
// read and closed; the whole exchange must end within WaitTimeout.
func (e *Env) GetText(t testing.TB, suffix string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	resp := e.Get(t, ctx, suffix, hdr)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", suffix, err)
	}
	return resp, string(b)
}

// Topics builds the query of a subscription to selectors (encoded, without
// the leading "?").
func Topics(selectors ...string) string {
	return url.Values{"topic": selectors}.Encode()
}
