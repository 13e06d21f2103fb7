package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
)

// serveWait bounds every wait in these tests.
const serveWait = 10 * time.Second

const serveTestKey = "serve test secret"

// servedHub is a `herald serve` running in-process.
type servedHub struct {
	base   string // http://127.0.0.1:port
	stdout *hubtest.SyncBuffer
	cancel context.CancelFunc
	errc   chan error // serve's result
}

// serveHub runs serve with the flags args (on 127.0.0.1:0, with the memory
// store unless args name a data directory) until the test ends or stop is
// called.
func serveHub(t *testing.T, args ...string) *servedHub {
	t.Helper()
	var c serveConfig
	fs := serveFlags(&c)
	fs.SetOutput(io.Discard)
	defaults := []string{"--addr=127.0.0.1:0", "--demo=false"}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--data-dir") }) {
		defaults = append(defaults, "--store=memory:")
	}
	if err := parseFlags(fs, append(defaults, args...)); err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &servedHub{stdout: &hubtest.SyncBuffer{}, cancel: cancel, errc: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { h.errc <- serve(ctx, c, slog.New(slog.DiscardHandler), h.stdout, ready) }()
	select {
	case addr := <-ready:
		h.base = "http://" + addr
	case err := <-h.errc:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(serveWait):
		cancel()
		t.Fatalf("serve did not start within %v", serveWait)
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return h
}

// stop cancels serve's context and returns its result. It may be called
// more than once.
func (h *servedHub) stop() error {
	h.cancel()
	select {
	case err, ok := <-h.errc:
		if ok {
			close(h.errc)
		}
		return err
	case <-time.After(serveWait):
		return fmt.Errorf("serve did not return within %v of its context's end", serveWait)
	}
}

func serveToken(t *testing.T, key string, g auth.Grant) string {
	t.Helper()
	tok, err := auth.Sign("HS256", []byte(key), g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// servePublish publishes form to the hub at base with token; it returns the
// status and the body.
func servePublish(t *testing.T, base, token string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+mercure.Path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := clientFor(base).Do(req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serveGet sends a GET and returns the status and body.
func serveGet(t *testing.T, target string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serveWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := clientFor(target).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// serveStream is an open subscription read with the real sse.Decoder.
type serveStream struct {
	resp   *http.Response
	dec    *sse.Decoder
	events chan sse.Event
	done   chan struct{}
	err    error
}

// serveSubscribe opens a subscription to the hub at base; it ends with the
// test.
func serveSubscribe(t *testing.T, base, query string, hdr http.Header) *serveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+mercure.Path+"?"+query, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := clientFor(base).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe: %s %s", resp.Status, b)
	}
	s := &serveStream{resp: resp, dec: sse.NewDecoder(resp.Body), events: make(chan sse.Event, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		for {
			ev, err := s.dec.Decode()
			if err != nil {
				s.err = err
				return
			}
			s.events <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-s.done
	})
	return s
}

// next returns the next event within serveWait.
func (s *serveStream) next(t *testing.T) sse.Event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("the stream ended: %v", s.err)
		}
		return ev
	case <-time.After(serveWait):
		t.Fatalf("no event within %v", serveWait)
	}
	panic("unreachable")
}

// end waits for the stream to end and returns the reader's error.
func (s *serveStream) end(t *testing.T) error {
	t.Helper()
	timeout := time.After(serveWait)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return s.err
			}
			t.Errorf("event while waiting for the end: %+v", ev)
		case <-timeout:
			t.Fatalf("the stream did not end within %v", serveWait)
		}
	}
}

// metricValue returns the value of the sample named series (with its
// labels, as exposed) in a Prometheus text exposition.
func metricValue(t *testing.T, exposition, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		t.Fatalf("no %s in /metrics", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

// TestServe: `herald serve` serves the hub, /metrics and /healthz; on
// shutdown (its context ends, as on SIGTERM), the http.Server's shutdown
// ends the streams (RegisterOnShutdown) with a reconnection delay, and serve
// returns.
func TestServe(t *testing.T) {
	t.Parallel()
	h := serveHub(t, "--jwt-key="+serveTestKey)
	pub := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	s := serveSubscribe(t, h.base, "topic=t", nil)
	private := serveSubscribe(t, h.base, "topic=t", http.Header{"Authorization": {"Bearer " + serveToken(t, serveTestKey, auth.Grant{Subscribe: []string{"t"}})}})
	var ids []string
	for i := range 3 {
		status, id := servePublish(t, h.base, pub, url.Values{"topic": {"t"}, "data": {fmt.Sprint(i)}})
		if status != http.StatusOK {
			t.Fatalf("publish: %d %s", status, id)
		}
		ids = append(ids, id)
	}
	status, privateID := servePublish(t, h.base, pub, url.Values{"topic": {"t"}, "data": {"private"}, "private": {"on"}})
	if status != http.StatusOK {
		t.Fatalf("private publish: %d %s", status, privateID)
	}
	for _, id := range ids {
		if ev := s.next(t); ev.ID != id {
			t.Fatalf("received %+v, want %q", ev, id)
		}
		if ev := private.next(t); ev.ID != id {
			t.Fatalf("authorized subscriber received %+v, want %q", ev, id)
		}
	}
	if ev := private.next(t); ev.ID != privateID {
		t.Fatalf("authorized subscriber received %+v, want the private update %q", ev, privateID)
	}
	if status, body := servePublish(t, h.base, "", url.Values{"topic": {"t"}}); status != http.StatusUnauthorized {
		t.Errorf("publish without a token: %d %q, want 401", status, body)
	}
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"mercure": map[string]any{"publish": []string{"*"}},
		"exp":     time.Now().Add(-time.Minute).Unix(),
	}).SignedString([]byte(serveTestKey))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := servePublish(t, h.base, expired, url.Values{"topic": {"t"}}); status != http.StatusUnauthorized {
		t.Errorf("publish with an expired token: %d %q, want 401", status, body)
	}

	resp, body := serveGet(t, h.base+"/healthz", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "ok") {
		t.Errorf("/healthz: %s %q", resp.Status, body)
	}
	resp, body = serveGet(t, h.base+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	for series, want := range map[string]float64{
		"herald_published_total":                             4,
		"herald_subscribers":                                 2,
		"herald_subscribers_opened_total":                    2,
		`herald_publish_errors_total{reason="unauthorized"}`: 2,
		`herald_auth_failures_total{kind="missing"}`:         1,
		`herald_auth_failures_total{kind="expired"}`:         1,
		"herald_store_up":                                    1,
	} {
		if got := metricValue(t, body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Delivery is counted once the write returns, which may be just after
	// the subscriber read the event.
	if got := metricValue(t, body, "herald_delivered_total"); got > 7 {
		t.Errorf("herald_delivered_total = %v, want at most the 7 events sent", got)
	}

	// Shut down: each stream gets a retry and ends cleanly; serve returns.
	if err := h.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	for _, st := range []*serveStream{s, private} {
		if err := st.end(t); !errors.Is(err, io.EOF) {
			t.Errorf("stream ended with %v, want a clean end", err)
		}
		if r, ok := st.dec.Retry(); !ok || r <= 0 {
			t.Errorf("no reconnection delay before the end (%v, %v)", r, ok)
		}
	}
	if _, err := http.Get(h.base + "/healthz"); err == nil {
		t.Error("the hub still answers after serve returned")
	}
}

// TestServeDelivered: herald_delivered_total counts every event written,
// live or replayed, herald_replayed_total those from history, and
// herald_history_gaps_total the resumptions from ids history does not hold.
func TestServeDelivered(t *testing.T) {
	t.Parallel()
	h := serveHub(t, "--jwt-key="+serveTestKey)
	pub := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	s := serveSubscribe(t, h.base, "topic=t", nil)
	for i := range 3 {
		servePublish(t, h.base, pub, url.Values{"topic": {"t"}, "data": {fmt.Sprint(i)}})
		s.next(t)
	}
	// Replayed events count too.
	r := serveSubscribe(t, h.base, "topic=t", http.Header{"Last-Event-ID": {herald.EarliestID}})
	for range 3 {
		r.next(t)
	}
	// A subscriber resuming from an id history does not hold is a gap.
	serveSubscribe(t, h.base, "topic=t", http.Header{"Last-Event-ID": {"never-published"}})
	// The counters are updated right after the writes the subscribers have
	// read: allow them a moment.
	deadline := time.Now().Add(serveWait)
	for {
		_, body := serveGet(t, h.base+"/metrics", nil)
		delivered := metricValue(t, body, "herald_delivered_total")
		replayed := metricValue(t, body, "herald_replayed_total")
		if delivered == 6 && replayed == 3 {
			if gaps := metricValue(t, body, "herald_history_gaps_total"); gaps != 1 {
				t.Errorf("herald_history_gaps_total = %v, want 1", gaps)
			}
			break
		}
		if delivered > 6 || replayed > 3 || time.Now().After(deadline) {
			t.Fatalf("herald_delivered_total = %v, herald_replayed_total = %v, want 6 and 3", delivered, replayed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logURL reads the listening URLs from a JSON log stream.
type logURL struct {
	mu   sync.Mutex
	buf  []byte
	url  chan listening
	once sync.Once
}

// listening is what the "herald is listening" log line says.
type listening struct {
	URL   string `json:"url"`   // the hub's base URL
	Pprof string `json:"pprof"` // the profiler's, with --pprof-addr
	Store string `json:"store"` // the store it opened
}

func newLogURL() *logURL { return &logURL{url: make(chan listening, 1)} }

func (l *logURL) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := l.buf[:i]
		l.buf = l.buf[i+1:]
		var rec struct {
			Msg string `json:"msg"`
			listening
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "herald is listening" {
			l.once.Do(func() { l.url <- rec.listening })
		}
	}
}

// runServeCommand runs `herald serve args...` through run, as main does,
// and returns the hub's base URL (from its logs) and what it printed.
func runServeCommand(t *testing.T, args ...string) (base string, stdout *hubtest.SyncBuffer) {
	t.Helper()
	l, stdout := runServeListening(t, args...)
	return l.URL, stdout
}

// runServeListening is runServeCommand, returning all the URLs logged.
func runServeListening(t *testing.T, args ...string) (l listening, stdout *hubtest.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogURL()
	stdout = &hubtest.SyncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"serve", "--addr=127.0.0.1:0", "--store=memory:", "--demo=false", "--log-format=json"}, args...), strings.NewReader(""), stdout, logs)
	}()
	select {
	case l = <-logs.url:
	case err := <-errc:
		cancel()
		t.Fatalf("serve %q: %v", args, err)
	case <-time.After(serveWait):
		cancel()
		t.Fatalf("serve did not log its URL within %v", serveWait)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(serveWait):
			t.Errorf("serve did not return within %v", serveWait)
		}
	})
	return l, stdout
}

// TestServeFlags: the command-line flags reach the hub.
func TestServeFlags(t *testing.T) {
	t.Parallel()
	base, _ := runServeCommand(t,
		"--publisher-jwt-key=publisher key", "--subscriber-jwt-key=subscriber key",
		"--anonymous=false", "--heartbeat=50ms", "--subscriptions",
		"--cors-origins=https://app.example", "--max-topics=2", "--max-body=200")
	pub := serveToken(t, "publisher key", auth.Grant{Publish: []string{"*"}})
	sub := serveToken(t, "subscriber key", auth.Grant{Subscribe: []string{"*"}})

	if resp, body := serveGet(t, base+mercure.Path+"?topic=t", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("--anonymous=false: anonymous subscribe %s %q, want 401", resp.Status, body)
	}
	if resp, body := serveGet(t, base+mercure.Path+"?topic=t", http.Header{"Authorization": {"Bearer " + pub}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("separate keys: subscribe with a publisher-key token %s %q, want 401", resp.Status, body)
	}
	if status, body := servePublish(t, base, sub, url.Values{"topic": {"t"}}); status != http.StatusUnauthorized {
		t.Errorf("separate keys: publish with a subscriber-key token %d %q, want 401", status, body)
	}
	if status, body := servePublish(t, base, pub, url.Values{"topic": {"a", "b", "c"}}); status != http.StatusBadRequest {
		t.Errorf("--max-topics=2: 3 topics %d %q, want 400", status, body)
	}
	if status, body := servePublish(t, base, pub, url.Values{"topic": {"t"}, "data": {strings.Repeat("x", 300)}}); status != http.StatusRequestEntityTooLarge {
		t.Errorf("--max-body=200: %d %q, want 413", status, body)
	}
	if resp, body := serveGet(t, base+mercure.Path+"/subscriptions", http.Header{"Authorization": {"Bearer " + sub}}); resp.StatusCode != http.StatusOK {
		t.Errorf("--subscriptions: GET subscriptions %s %q, want 200", resp.Status, body)
	}

	// --heartbeat and --cors-origins, on a stream.
	ctx, cancel := context.WithTimeout(context.Background(), serveWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+mercure.Path+"?topic=t", nil)
	req.Header.Set("Authorization", "Bearer "+sub)
	req.Header.Set("Origin", "https://app.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Errorf("--cors-origins: Access-Control-Allow-Origin %q", got)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != ":\n" {
		t.Errorf("--heartbeat=50ms: first line of an idle stream %q (%v), want a heartbeat comment", line, err)
	}
}

// TestServeEnv: every flag can be set with HERALD_<NAME>; a flag on the
// command line wins.
func TestServeEnv(t *testing.T) {
	t.Setenv("HERALD_JWT_KEY", "key from the environment")
	t.Setenv("HERALD_ANONYMOUS", "false")
	t.Setenv("HERALD_MAX_TOPICS", "1")
	base, _ := runServeCommand(t, "--max-topics=3")
	if resp, _ := serveGet(t, base+mercure.Path+"?topic=t", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HERALD_ANONYMOUS=false: anonymous subscribe %s, want 401", resp.Status)
	}
	pub := serveToken(t, "key from the environment", auth.Grant{Publish: []string{"*"}})
	if status, body := servePublish(t, base, pub, url.Values{"topic": {"a", "b", "c"}}); status != http.StatusOK {
		t.Errorf("HERALD_JWT_KEY with --max-topics=3 over HERALD_MAX_TOPICS=1: %d %q, want 200", status, body)
	}
}

// TestServeDevKey: with no key, serve generates one, says so loudly, and
// prints a token that works and a curl example.
func TestServeDevKey(t *testing.T) {
	t.Parallel()
	base, stdout := runServeCommand(t)
	out := stdout.String()
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, "DEVELOPMENT key") || !strings.Contains(out, "curl") {
		t.Errorf("stdout does not warn about the development key and show curl:\n%s", out)
	}
	m := regexp.MustCompile(`\n\s+export TOKEN=(\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no token in:\n%s", out)
	}
	s := serveSubscribe(t, base, "topic=hello", http.Header{"Authorization": {"Bearer " + m[1]}})
	status, id := servePublish(t, base, m[1], url.Values{"topic": {"hello"}, "data": {"world"}, "private": {"on"}})
	if status != http.StatusOK {
		t.Fatalf("publish with the printed token: %d %q", status, id)
	}
	if ev := s.next(t); ev.ID != id || ev.Data != "world" {
		t.Errorf("received %+v", ev)
	}
	if !strings.Contains(out, base+mercure.Path) {
		t.Errorf("the curl example does not name the hub's URL %s:\n%s", base+mercure.Path, out)
	}
}

// TestServeDurable: with the embedded store, history survives a restart: a subscriber resuming from an id gets what followed it.
func TestServeDurable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	first := serveHub(t, "--jwt-key="+serveTestKey, "--store=bolt:", "--data-dir="+dir)
	var ids []string
	for i := range 3 {
		status, id := servePublish(t, first.base, pub, url.Values{"topic": {"t"}, "data": {fmt.Sprint(i)}})
		if status != http.StatusOK {
			t.Fatalf("publish: %d %s", status, id)
		}
		ids = append(ids, id)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	second := serveHub(t, "--jwt-key="+serveTestKey, "--data-dir="+dir) // the default store
	s := serveSubscribe(t, second.base, "topic=t", http.Header{"Last-Event-ID": {ids[0]}})
	if got := s.resp.Header.Get("Last-Event-ID"); got != ids[0] {
		t.Errorf("after a restart: Last-Event-ID %q, want %q (held)", got, ids[0])
	}
	for _, id := range ids[1:] {
		if ev := s.next(t); ev.ID != id {
			t.Errorf("after a restart: replayed %+v, want %q", ev, id)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
		t.Errorf("--data-dir %s holds nothing (%v)", dir, err)
	}
}

// TestServeUsageErrors: bad flags are usage errors (exit code 2) with a
// message, and nothing is served.
func TestServeUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--store=nowhere:"},
		{"--jwt-alg=none", "--jwt-key=k"},
		{"--jwt-alg=RS256", "--jwt-key=an HMAC secret"},
		{"--log-level=loud"},
		{"--tls-cert=cert.pem"},
		{"--tls-cert=/nonexistent/cert.pem", "--tls-key=/nonexistent/key.pem"},
		{"--no-such-flag"},
		{"positional"},
	} {
		var stderr hubtest.SyncBuffer
		err := run(context.Background(), append([]string{"serve", "--addr=127.0.0.1:0"}, args...), strings.NewReader(""), io.Discard, &stderr)
		if err == nil {
			t.Errorf("serve %q: no error", args)
			continue
		}
		if code := exitCode(err); code != 2 {
			t.Errorf("serve %q: %v, exit code %d, want 2", args, err, code)
		}
	}
}

// TestServePprof: --pprof-addr serves the profiler on its own listener, and
// only there; an address that cannot be listened on stops serve with an
// error naming the flag.
func TestServePprof(t *testing.T) {
	t.Parallel()
	l, _ := runServeListening(t, "--pprof-addr=127.0.0.1:0")
	if !strings.HasPrefix(l.Pprof, "http://127.0.0.1:") || l.Pprof == l.URL+"/debug/pprof/" {
		t.Fatalf("the profiler's URL is %q (hub at %q), want its own 127.0.0.1 listener", l.Pprof, l.URL)
	}
	resp, body := serveGet(t, l.Pprof+"goroutine?debug=1", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("GET goroutine profile: %d %.200q, want 200 and a goroutine profile", resp.StatusCode, body)
	}
	if resp, _ := serveGet(t, l.URL+"/debug/pprof/", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ on the hub's listener: %d, want 404", resp.StatusCode)
	}
	if l, _ := runServeListening(t); l.Pprof != "" {
		t.Errorf("without --pprof-addr the profiler is at %q, want none", l.Pprof)
	}

	err := run(context.Background(), []string{"serve", "--addr=127.0.0.1:0", "--store=memory:", "--demo=false", "--pprof-addr=127.0.0.1:-1"}, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--pprof-addr") {
		t.Errorf("serve --pprof-addr=127.0.0.1:-1: %v, want an error naming --pprof-addr", err)
	}
}

// TestServeFailedStartLeavesNothing: a start that fails because its address
// is taken (or its profiler's, or its TLS files are wrong) creates no data
// directory and no write-ahead log: the listeners open before the store.
func TestServeFailedStartLeavesNothing(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, extra := range [][]string{
		{"--addr=" + taken.Addr().String()},
		{"--addr=127.0.0.1:0", "--pprof-addr=" + taken.Addr().String()},
		{"--addr=127.0.0.1:0", "--tls-cert=/nonexistent/cert.pem", "--tls-key=/nonexistent/key.pem"},
	} {
		data := filepath.Join(t.TempDir(), "herald-data")
		args := append([]string{"serve", "--demo=false", "--store=bolt:", "--data-dir=" + data}, extra...)
		if err := run(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", extra)
			continue
		}
		if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%q: the failed start left %s behind (%v)", extra, data, err)
		}
	}
}
