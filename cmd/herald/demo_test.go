package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/herald-sse/herald/web"
	"github.com/herald-sse/herald/web/browsertest"
)

// startServe runs `herald serve args...` in-process until the test ends and
// returns its base URL and what it printed on stdout.
func startServe(t *testing.T, args ...string) (base, stdout string) {
	t.Helper()
	var c serveConfig
	fs := serveFlags(&c)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, c, slog.New(slog.DiscardHandler), &out, ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		return "http://" + addr, out.String() // serve wrote out before ready
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start within 10 s")
	}
	panic("unreachable")
}

// TestDemoServe opens the page `herald serve` serves in a real browser: the
// demo works, and the debugging panel works with the development token
// serve prints.
func TestDemoServe(t *testing.T) {
	b := browsertest.New(t)
	base, stdout := startServe(t, "--addr=127.0.0.1:0", "--store=memory:", "--heartbeat=0")
	m := regexp.MustCompile(`\n\s+export TOKEN=(\S+)\n`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("serve printed no development token:\n%s", stdout)
	}
	tok := m[1]

	p := b.NewPage(t)
	p.Do(chromedp.Navigate(base + "/"))
	p.WaitFor("the stream to open", `document.getElementById('state').dataset.state === 'open'`, 0)
	p.WaitFor("the welcome", `document.querySelector('#log > li[data-type="welcome"]') !== null`, 0)
	p.Do(chromedp.SetValue(chromedp.ID("message"), "hello from herald serve\nsecond line ✓"), chromedp.Click(chromedp.ID("send")))
	p.WaitFor("the message", `[...document.querySelectorAll('#log > li[data-type="message"] .data')].some(d => d.textContent === 'hello from herald serve\nsecond line ✓')`, 0)

	// Debugging one's own topics with the printed token: a private update.
	p.Do(
		chromedp.SetValue(chromedp.ID("watch-topics"), "https://example.com/books/{id}"),
		chromedp.SetValue(chromedp.ID("watch-token"), tok),
		chromedp.Click(chromedp.ID("watch-start")),
	)
	p.WaitFor("the watch", `document.getElementById('watch-state').textContent.startsWith('watching')`, 0)
	p.Do(
		chromedp.SetValue(chromedp.ID("pub-topic"), "https://example.com/books/1"),
		chromedp.SetValue(chromedp.ID("pub-data"), `{"title": "Les Misérables", "stock": 3}`),
		chromedp.Click(chromedp.ID("pub-private")),
		chromedp.SetValue(chromedp.ID("pub-token"), tok),
		chromedp.Click(chromedp.ID("pub-send")),
	)
	p.WaitFor("the publication", `document.getElementById('pub-status').textContent.startsWith('Published as')`, 0)
	p.WaitFor("the private update", `[...document.querySelectorAll('#watch-log .data')].some(d => d.textContent === '{"title": "Les Misérables", "stock": 3}')`, 0)
	p.Screenshot("serve-demo")

	resp, err := http.Get(base + "/demo/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats web.Stats
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if !stats.Publish || stats.Subscribers != 2 || stats.DemoSubscribers != 1 {
		t.Errorf("stats = %+v, want publishing on, 2 subscribers, 1 on the demo", stats)
	}
}

// TestDemoServeOff checks that --demo=false closes the demo's send path and
// keeps the rest.
func TestDemoServeOff(t *testing.T) {
	base, _ := startServe(t, "--addr=127.0.0.1:0", "--store=memory:", "--demo=false")
	resp, err := http.Post(base+"/demo/send", "application/json", strings.NewReader(`{"data": "hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "--demo=false") {
		t.Errorf("POST /demo/send: %d %q, want 403 naming --demo=false", resp.StatusCode, body)
	}
	resp, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `data-publish="false"`) {
		t.Errorf("GET /: %d; want the page, with publishing off", resp.StatusCode)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d; the demo must not shadow it", path, resp.StatusCode)
		}
	}
}
