// Package browsertest runs tests in a real headless Chromium, driven over the
// DevTools protocol with chromedp. It is test support for Herald's demo page
// (package web and cmd/herald); it is not imported by any program.
//
// A [Browser] is started once per test binary function and shared by its
// subtests; each [Page] lives in its own browser context (its own cookies
// and connection pool, like a separate browser profile).
//
// When no Chromium is found, tests skip, unless the environment variable CI
// is set: then a missing browser fails the test, so that CI cannot pass
// without running the browser tests.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables read by this package.
const (
	// EnvChromium names the Chromium (or Chrome) executable to use.
	EnvChromium = "HERALD_CHROMIUM"
	// EnvArtifacts names the directory that receives screenshots. Default:
	// a temporary directory of the test.
	EnvArtifacts = "HERALD_ARTIFACTS"
)

// DefaultTimeout bounds each step of a test in the browser.
const DefaultTimeout = 15 * time.Second

// ExecPath returns the browser executable to use: $HERALD_CHROMIUM, else
// /usr/bin/chromium (Debian's package), else the first of chromium,
// chromium-browser, google-chrome found on PATH. It returns "" when there is
// none.
func ExecPath() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium process.
type Browser struct {
	ctx       context.Context // the browser's chromedp context
	artifacts string
	output    *syncBuffer
}

// New starts a headless Chromium for the test t and its subtests, with a
// fresh profile and any further options (such as flags); it is stopped when
// t ends. When no browser is installed, New skips t, or fails it when $CI is
// set.
func New(t testing.TB, more ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	path := ExecPath()
	if path == "" {
		msg := "no Chromium found: install it (apt-get install -y chromium) or set " + EnvChromium
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must run the browser tests")
		}
		t.Skip(msg)
	}
	out := &syncBuffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	}
	opts = append(opts, more...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("browser output (tail):\n%s", tail(out.String(), 3000))
		}
	})
	// The first Do starts the browser and binds it to ctx, which has no
	// deadline; later steps use timeouts derived from their page.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", path, err, tail(out.String(), 3000))
	}
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return &Browser{ctx: ctx, artifacts: dir, output: out}
}

// Artifacts returns the directory screenshots are saved in.
func (b *Browser) Artifacts() string { return b.artifacts }

// Page is one tab, in a browser context of its own.
type Page struct {
	t   testing.TB
	ctx context.Context
	b   *Browser

	close context.CancelFunc

	mu         sync.Mutex
	exceptions []string
}

// NewPage opens a tab in a new browser context (cookies and connections of
// its own) with a desktop viewport. It is closed when t ends. Uncaught
// JavaScript exceptions in it fail t.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	return b.open(t, ctx, cancel)
}

// NewTab opens another tab in p's browser context: it shares p's cookies,
// storage, Web Locks and BroadcastChannels, as tabs of one browser profile
// do. It is closed when t ends, or by Close.
func (p *Page) NewTab(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	return p.b.open(t, ctx, cancel)
}

// Close closes the tab now (as a user closing it would) and returns once
// the browser has closed it.
func (p *Page) Close() { p.close() }

func (b *Browser) open(t testing.TB, ctx context.Context, cancel context.CancelFunc) *Page {
	t.Helper()
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, bound to ctx
		t.Fatalf("opening a tab: %v", err)
	}
	p := &Page{t: t, ctx: ctx, b: b, close: cancel}
	events := chromedp.Events(ctx, runtime.ExceptionThrown)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.exceptions = append(p.exceptions, describeException(ev.ExceptionDetails))
			p.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.exceptions {
			t.Errorf("uncaught JavaScript exception: %s", e)
		}
	})
	p.Do(chromedp.EmulateViewport(1280, 900))
	return p
}

// Context returns the page's chromedp context, for actions the helpers do
// not cover. Bound it with a timeout.
func (p *Page) Context() context.Context { return p.ctx }

// Do runs actions in the page, each bounded by DefaultTimeout, and fails the
// test on error.
func (p *Page) Do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	for _, a := range actions {
		ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
		err := chromedp.Do(ctx, a)
		cancel()
		if err != nil {
			p.t.Fatalf("browser: %v", err)
		}
	}
}

// Eval evaluates the JavaScript expression js in p and returns its value.
func Eval[T any](p *Page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("browser: evaluating %s: %v", js, err)
	}
	return v
}

// WaitFor waits until the JavaScript expression js is truthy in p, for up to
// timeout (DefaultTimeout when 0), and fails the test with what when it
// never is. The screenshot of the page at that moment is saved as
// failed-<test>.png.
func (p *Page) WaitFor(what, js string, timeout time.Duration) {
	p.t.Helper()
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		name := "failed-" + sanitize(p.t.Name())
		path := p.trySave(name)
		p.t.Fatalf("waiting for %s (%s): %v; screenshot: %s", what, js, err, path)
	}
}

// Screenshot saves the viewport as <name>.png in the artifacts directory and
// returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(p.b.artifacts, sanitize(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	p.t.Logf("screenshot: %s", path)
	return path
}

func (p *Page) trySave(name string) string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	path := filepath.Join(p.b.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "(none: " + err.Error() + ")"
	}
	return path
}

func describeException(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s at %s:%d:%d", text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitize(name string) string {
	return strings.Trim(unsafeName.ReplaceAllString(name, "-"), "-")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// syncBuffer collects the browser's output, written from another goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
