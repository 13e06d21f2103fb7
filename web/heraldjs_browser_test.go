package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/web/browsertest"
)

// The tests in this file drive herald.js in headless Chromium against a real
// `herald serve` (the binary, built once) behind a Go reverse proxy that also
// serves the test page and mints subscriber tokens. They count events by id:
// every tab must receive every event once, in order.

// jsKey signs every token of these tests (HS256).
const jsKey = "herald.js browser test key 0123456789"

// binDir holds the herald binary built for these tests; TestMain removes it.
var binDir string

var heraldBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "heraldjs-test-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "herald")
	goTool := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/herald-sse/herald/cmd/herald").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/herald: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// heraldProc is one `herald serve` process.
type heraldProc struct {
	URL string
	cmd *exec.Cmd
	out *hubtest.SyncBuffer
}

// startHerald runs `herald serve` with args on 127.0.0.1:0 and returns once it
// listens. It is stopped (SIGTERM) when the test ends, unless stopped before.
func startHerald(t *testing.T, args ...string) *heraldProc {
	t.Helper()
	bin, err := heraldBinary()
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"serve", "--addr=127.0.0.1:0", "--log-format=json", "--jwt-key=" + jsKey,
		"--shutdown-retry=300ms", "--shutdown-timeout=5s"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &heraldProc{cmd: cmd, out: &hubtest.SyncBuffer{}}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(p.out, sc.Text())
			var rec struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "herald is listening" {
				urls <- rec.URL
			}
		}
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case p.URL = <-urls:
	case <-time.After(20 * time.Second):
		t.Fatalf("herald serve did not listen within 20 s:\n%s", p.out)
	}
	return p
}

// stop ends the process gracefully (SIGTERM, as systemd does) and waits.
func (p *heraldProc) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("herald serve: %v\n%s", err, p.out)
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		t.Errorf("herald serve did not stop within 15 s of SIGTERM")
	}
}

// metric reads one sample of the hub's /metrics, by its name and labels as
// written there (e.g. herald_subscribers_closed_total{reason="expired"}).
func (p *heraldProc) metric(t *testing.T, sample string) int {
	t.Helper()
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\d+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s:\n%s", sample, body)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// subscribers reads herald_subscribers from the hub's /metrics.
func (p *heraldProc) subscribers(t *testing.T) int {
	t.Helper()
	return p.metric(t, "herald_subscribers")
}

// waitSubscribers waits until the hub counts n subscribers.
func (p *heraldProc) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(browsertest.DefaultTimeout)
	for p.subscribers(t) != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub counts %d subscribers, want %d", p.subscribers(t), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publisher publishes to a hub and remembers what it published, in order.
type publisher struct {
	mu    sync.Mutex
	hub   string
	token string
	ids   []string // in publication order
	topic map[string]string
}

func newPublisher(t *testing.T, hub string) *publisher {
	tok, err := auth.Sign("HS256", []byte(jsKey), auth.Grant{Publish: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	return &publisher{hub: hub, token: tok, topic: map[string]string{}}
}

// publish publishes data to topic and returns its id; it fails the test on
// error. Call it from the test's goroutine.
func (pb *publisher) publish(t *testing.T, topic, data string) string {
	t.Helper()
	id, err := pb.try(topic, data)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// try publishes data to topic and returns its id.
func (pb *publisher) try(topic, data string) (string, error) {
	pb.mu.Lock()
	hub := pb.hub
	pb.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, hub+"/.well-known/mercure", strings.NewReader(url.Values{"topic": {topic}, "data": {data}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+pb.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("publish: %d %s", resp.StatusCode, body)
	}
	id := strings.TrimSpace(string(body))
	pb.mu.Lock()
	pb.ids = append(pb.ids, id)
	pb.topic[id] = topic
	pb.mu.Unlock()
	return id, nil
}

// background publishes to each of topics in turn, pausing every between
// rounds, until the returned stop is called; stop waits for the last
// publication and reports an error through t.
func (pb *publisher) background(t *testing.T, every time.Duration, topics ...string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := 0; ; i++ {
			for _, topic := range topics {
				select {
				case <-done:
					return
				default:
				}
				if _, err := pb.try(topic, fmt.Sprintf("%s %d", topic, i)); err != nil {
					t.Error(err)
					return
				}
			}
			time.Sleep(every) // pacing, not synchronisation
		}
	}()
	return sync.OnceFunc(func() {
		close(done)
		<-finished
	})
}

// waitMore waits until n more events than now have been published.
func (pb *publisher) waitMore(t *testing.T, n int) {
	t.Helper()
	want := len(pb.published()) + n
	deadline := time.Now().Add(browsertest.DefaultTimeout)
	for len(pb.published()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("the publisher published %d events of %d in %v", len(pb.published()), want, browsertest.DefaultTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (pb *publisher) published() []string {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return slices.Clone(pb.ids)
}

// jsProxy stands in front of the hub, as nginx would: it forwards to the
// current hub (502 when it cannot reach it), and serves the test page and
// subscriber tokens on the same origin.
type jsProxy struct {
	URL    string
	target atomic.Pointer[url.URL]
	bad    atomic.Int64 // 502s answered
	tokens atomic.Int64 // tokens minted
}

func startProxy(t *testing.T, hub string) *jsProxy {
	t.Helper()
	px := &jsProxy{}
	px.setHub(t, hub)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(px.target.Load())
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1, // stream events as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return
			}
			px.bad.Add(1)
			http.Error(w, "bad gateway: "+err.Error(), http.StatusBadGateway)
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, testPage)
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		ttl, _ := time.ParseDuration(r.URL.Query().Get("ttl"))
		tok, err := auth.Sign("HS256", []byte(jsKey), auth.Grant{Subscribe: []string{"*"}, TTL: ttl})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		px.tokens.Add(1)
		io.WriteString(w, tok)
	})
	mux.Handle("/", rp)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	px.URL = srv.URL
	return px
}

func (px *jsProxy) setHub(t *testing.T, hub string) {
	u, err := url.Parse(hub)
	if err != nil {
		t.Fatal(err)
	}
	px.target.Store(u)
}

// testPage subscribes with herald.js, served by the hub at /herald.js, and
// records what it sees. Query: topics (comma-separated), ttl (a token of
// that life from /token, renewed by getToken), last (lastEventID), hub (the
// hub's base URL when it is not this page's origin).
const testPage = `<!doctype html><meta charset="utf-8"><title>herald.js test</title>
<script type="module">
const q = new URLSearchParams(location.search);
// From the hub's origin when hub is given, else from this one (the proxy).
const hub = q.get('hub') || '';
const { createClient } = await import(hub + '/herald.js');
const now = () => Date.now();
Object.assign(window, { got: [], marks: [], gaps: [], lives: 0, errors: [] });
const opts = {
  initialDelay: 250, maxDelay: 2000,
  onState: (s, i) => marks.push({ what: 'state', s, status: i.status || 0, at: now() }),
  onRole: (r) => marks.push({ what: 'role', s: r, at: now() }),
  onError: (e) => errors.push(e.status + ': ' + e.message),
  onGap: (g) => gaps.push(g.lastEventID),
  onLive: () => { lives++; },
};
if (q.get('ttl')) opts.getToken = () => fetch('/token?ttl=' + q.get('ttl')).then((r) => r.text());
if (q.get('last')) opts.lastEventID = q.get('last');
if (hub) opts.hub = hub + '/.well-known/mercure';
const herald = createClient(opts);
const handlers = { '*': (e) => got.push(e.id) };
let sub = herald.subscribe((q.get('topics') || 'test').split(','), handlers);
window.herald = herald;
// resubscribe changes the topics: the new subscription first, then the old
// one closes (one reconnection each, as herald.js batches them).
window.resubscribe = (topics) => { const old = sub; sub = herald.subscribe(topics, handlers); old.close(); };
window.ready = true;
</script>`

// openTab opens the test page with query in a new tab of anchor's profile
// and waits until its connection (its own or a shared one) is open.
func openTab(t *testing.T, anchor *browsertest.Page, base, query string) *browsertest.Page {
	t.Helper()
	p := anchor.NewTab(t)
	p.Do(chromedp.Navigate(base + "/t/?" + query))
	p.WaitFor("herald.js to connect", `window.ready && herald.state === 'open'`, 0)
	return p
}

// received returns the ids a tab received, in order.
func received(p *browsertest.Page) []string {
	return browsertest.Eval[[]string](p, `got`)
}

// waitAll waits until p has received every id of want (or more) and checks
// that it received exactly want, once each, in order.
func waitAll(t *testing.T, p *browsertest.Page, name string, want []string) {
	t.Helper()
	p.WaitFor(fmt.Sprintf("%s to receive %d events", name, len(want)), fmt.Sprintf(`got.length >= %d`, len(want)), 0)
	checkOnce(t, name, received(p), want)
}

// checkOnce reports the events of want that got lacks and those it has
// twice, and fails when got is not exactly want.
func checkOnce(t *testing.T, name string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	var lost, doubled []string
	for _, id := range want {
		if seen[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			doubled = append(doubled, id)
		}
	}
	if len(lost) > 0 || len(doubled) > 0 || !slices.Equal(got, want) {
		t.Errorf("%s: %d events lost %v, %d doubled %v; got %d events, want %d", name, len(lost), lost, len(doubled), doubled, len(got), len(want))
	}
}

// TestHeraldJSBrowser drives herald.js in a real Chromium against a real
// `herald serve`.
func TestHeraldJSBrowser(t *testing.T) {
	b := browsertest.New(t)

	t.Run("8 tabs share one subscriber; the leader closes and another takes over", func(t *testing.T) {
		hub := startHerald(t, "--store=memory:")
		px := startProxy(t, hub.URL)
		pub := newPublisher(t, hub.URL)
		anchor := b.NewPage(t)
		var tabs []*browsertest.Page
		for range 8 {
			tabs = append(tabs, openTab(t, anchor, px.URL, "topics=test"))
		}
		for i, p := range tabs {
			p.WaitFor(fmt.Sprintf("tab %d to know the 8 clients", i+1), `herald.clients === 8`, 0)
		}
		hub.waitSubscribers(t, 1)
		t.Logf("8 tabs: herald_subscribers = %d", hub.subscribers(t))
		for i := range 20 {
			pub.publish(t, "test", fmt.Sprintf("event %d", i))
		}
		want := pub.published()
		for i, p := range tabs {
			waitAll(t, p, fmt.Sprintf("tab %d", i+1), want)
		}
		if n := hub.subscribers(t); n != 1 {
			t.Errorf("after 20 events the hub counts %d subscribers, want 1", n)
		}

		// Close the leader while events are published.
		leader := -1
		for i, p := range tabs {
			if browsertest.Eval[string](p, `herald.role`) == "leader" {
				leader = i
			}
		}
		if leader < 0 {
			t.Fatal("no tab leads")
		}
		stop := pub.background(t, 10*time.Millisecond, "test")
		defer stop()
		pub.waitMore(t, 10) // some events before the close
		closedAt := time.Now().UnixMilli()
		tabs[leader].Close()
		rest := slices.Delete(slices.Clone(tabs), leader, leader+1)
		// When a remaining tab became the leader, and when its connection
		// then opened (0 until it has).
		var elected, opened int64
		deadline := time.Now().Add(browsertest.DefaultTimeout)
		for opened == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no tab took the connection over")
			}
			for _, p := range rest {
				at := browsertest.Eval[[]int64](p, `(() => {
					const r = marks.findIndex((m) => m.what === 'role' && m.s === 'leader');
					const o = r < 0 ? undefined : marks.slice(r).find((m) => m.what === 'state' && m.s === 'open');
					return [r < 0 ? 0 : marks[r].at, o ? o.at : 0]; })()`)
				if at[1] > 0 {
					elected, opened = at[0], at[1]
				}
			}
			time.Sleep(20 * time.Millisecond) // polling
		}
		pub.waitMore(t, 10) // some events after the takeover
		stop()
		want = pub.published()
		for i, p := range rest {
			waitAll(t, p, fmt.Sprintf("remaining tab %d", i+1), want)
		}
		hub.waitSubscribers(t, 1)
		t.Logf("takeover: %d ms from closing the leader tab to the new leader's open connection (%d ms until another tab held the lock, %d ms to connect); %d events, 0 lost, 0 doubled in each of 7 tabs",
			opened-closedAt, elected-closedAt, opened-elected, len(want))
	})

	t.Run("a token that expires mid-stream is renewed: 0 lost", func(t *testing.T) {
		hub := startHerald(t, "--store=memory:", "--anonymous=false")
		px := startProxy(t, hub.URL)
		pub := newPublisher(t, hub.URL)
		p := openTab(t, b.NewPage(t), px.URL, "topics=test&ttl=3s")
		// 3 s tokens are renewed every 1.5 s; the hub ends a stream when
		// its token expires. Publish for 7 s.
		for i := range 140 {
			pub.publish(t, "test", fmt.Sprintf("event %d", i))
			time.Sleep(50 * time.Millisecond) // pacing: 7 s of events
		}
		waitAll(t, p, "the tab", pub.published())
		if n := px.tokens.Load(); n < 4 {
			t.Errorf("%d tokens were minted in 7 s of 3 s tokens, want at least 4", n)
		}
		if errs := browsertest.Eval[[]string](p, `errors`); len(errs) > 0 {
			t.Errorf("errors: %v", errs)
		}
		// Renewed ahead of time: the hub never ended a stream for an
		// expired token, nor refused one.
		for _, sample := range []string{`herald_subscribers_closed_total{reason="expired"}`, `herald_auth_failures_total{kind="expired"}`} {
			if n := hub.metric(t, sample); n != 0 {
				t.Errorf("%s = %d, want 0", sample, n)
			}
		}
		t.Logf("token renewal: %d tokens, %d events, 0 lost, 0 doubled", px.tokens.Load(), len(pub.published()))
	})

	t.Run("topics changed under publishing: 0 lost, 0 doubled", func(t *testing.T) {
		hub := startHerald(t, "--store=memory:")
		px := startProxy(t, hub.URL)
		pub := newPublisher(t, hub.URL)
		p := openTab(t, b.NewPage(t), px.URL, "topics=a")
		stop := pub.background(t, 5*time.Millisecond, "a", "b")
		defer stop()
		pub.waitMore(t, 40)
		browsertest.Eval[bool](p, `resubscribe(['a', 'b']), true`)
		p.WaitFor("the connection to a and b to be live", `lives === 2`, 0)
		afterFirst := len(pub.published()) // from here on, a and b
		pub.waitMore(t, 40)
		beforeSecond := len(pub.published()) // up to here, a
		browsertest.Eval[bool](p, `resubscribe(['b']), true`)
		p.WaitFor("the connection to b to be live", `lives === 3`, 0)
		pub.waitMore(t, 40)
		stop()
		all := pub.published()
		last := pub.publish(t, "b", "the end")
		p.WaitFor("the last event", fmt.Sprintf(`got.includes(%q)`, last), 0)
		got := received(p)

		// Exactly once each, in publication order.
		index := map[string]int{}
		for i, id := range all {
			index[id] = i
		}
		index[last] = len(all)
		seen := map[string]bool{}
		prev := -1
		for _, id := range got {
			if seen[id] {
				t.Errorf("event %s received twice", id)
			}
			seen[id] = true
			if index[id] <= prev {
				t.Errorf("event %s received out of order", id)
			}
			prev = index[id]
		}
		// Nothing lost: every a event up to the second change, every b event
		// from the first one on.
		lost := 0
		for i, id := range all {
			topic := pub.topic[id]
			if (topic == "a" && i < beforeSecond) || (topic == "b" && i >= afterFirst) {
				if !seen[id] && i >= index[got[0]] {
					lost++
				}
			}
		}
		if lost > 0 {
			t.Errorf("%d events lost", lost)
		}
		t.Logf("topic changes: %d events received of %d published, %d lost, 2 reconnections", len(got), len(all)+1, lost)
	})

	t.Run("a proxy answers 502 while the hub restarts: the page recovers, 0 lost", func(t *testing.T) {
		dir := t.TempDir()
		first := startHerald(t, "--data-dir="+dir)
		px := startProxy(t, first.URL)
		pub := newPublisher(t, first.URL)
		anchor := b.NewPage(t)
		tabs := []*browsertest.Page{openTab(t, anchor, px.URL, "topics=test"), openTab(t, anchor, px.URL, "topics=test")}
		for i := range 5 {
			pub.publish(t, "test", fmt.Sprintf("before %d", i))
		}
		for i, p := range tabs {
			waitAll(t, p, fmt.Sprintf("tab %d", i+1), pub.published())
		}

		first.stop(t)
		tabs[0].WaitFor("a 502 from the proxy", `marks.some((m) => m.s === 'reconnecting' && m.status === 502)`, 0)
		second := startHerald(t, "--data-dir="+dir)
		pub.mu.Lock()
		pub.hub = second.URL
		pub.mu.Unlock()
		// Published before the page is back: it must come from history.
		for i := range 5 {
			pub.publish(t, "test", fmt.Sprintf("after %d", i))
		}
		px.setHub(t, second.URL)
		for i, p := range tabs {
			p.WaitFor(fmt.Sprintf("tab %d to reconnect", i+1), `herald.state === 'open'`, 20*time.Second)
		}
		pub.publish(t, "test", "live again")
		for i, p := range tabs {
			waitAll(t, p, fmt.Sprintf("tab %d", i+1), pub.published())
		}
		second.waitSubscribers(t, 1)
		errs := browsertest.Eval[[]string](tabs[0], `errors`)
		t.Logf("hub restart behind a proxy: %d 502s answered, errors reported: %q; %d events, 0 lost, 0 doubled", px.bad.Load(), errs, len(pub.published()))
	})

	t.Run("from another origin: the token and Last-Event-ID headers pass CORS", func(t *testing.T) {
		px := startProxy(t, "http://127.0.0.1:1") // serves the page and tokens only
		hub := startHerald(t, "--store=memory:", "--anonymous=false", "--cors-origins="+px.URL)
		pub := newPublisher(t, hub.URL)
		p := openTab(t, b.NewPage(t), px.URL, "topics=test&ttl=2s&hub="+url.QueryEscape(hub.URL))
		if origin := browsertest.Eval[string](p, `location.origin`); origin == hub.URL {
			t.Fatal("the page and the hub share an origin")
		}
		// 2 s tokens: a renewal, so a reconnection with Last-Event-ID, every second.
		for i := range 60 {
			pub.publish(t, "test", fmt.Sprintf("event %d", i))
			time.Sleep(50 * time.Millisecond) // pacing: 3 s of events
		}
		waitAll(t, p, "the page on another origin", pub.published())
		if n := px.tokens.Load(); n < 3 {
			t.Errorf("%d tokens minted, want at least 3 (renewals)", n)
		}
		if errs := browsertest.Eval[[]string](p, `errors`); len(errs) > 0 {
			t.Errorf("errors: %v", errs)
		}
		if n := hub.metric(t, `herald_subscribers_closed_total{reason="expired"}`); n != 0 {
			t.Errorf("%d streams ended with their token: renewals failed", n)
		}
	})

	t.Run("history trimmed: onGap", func(t *testing.T) {
		hub := startHerald(t, "--store=memory:", "--history-size=5")
		px := startProxy(t, hub.URL)
		pub := newPublisher(t, hub.URL)
		first := pub.publish(t, "test", "soon trimmed")
		for i := range 10 {
			pub.publish(t, "test", fmt.Sprintf("after %d", i))
		}
		p := openTab(t, b.NewPage(t), px.URL, "topics=test&last="+url.QueryEscape(first))
		p.WaitFor("onGap", fmt.Sprintf(`gaps.length === 1 && gaps[0] === %q`, first), 0)
		live := pub.publish(t, "test", "live")
		p.WaitFor("the live event", fmt.Sprintf(`got.includes(%q)`, live), 0)
	})
}
