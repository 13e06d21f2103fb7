package main

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/web/browsertest"
)

// streams is how many EventSources the page opens: more than the 6
// connections per site a browser allows over HTTP/1.1.
const streams = 10

// TestBrowserStreamsOverHTTP2: in a real Chromium, a page opens 10
// EventSources on the hub. Over HTTPS (HTTP/2) every one of them opens and
// receives its event; over plain HTTP/1.1 the browser holds all but 6 back,
// which is why the hub serves TLS.
func TestBrowserStreamsOverHTTP2(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t, chromedp.Flag("ignore-certificate-errors", true))
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	issueCert(t, cert, key, 3)
	pub := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})

	openStreams := func(t *testing.T, base string) *browsertest.Page {
		p := b.NewPage(t)
		p.Do(chromedp.Navigate(base + "/healthz")) // the hub's origin, no stream of its own
		browsertest.Eval[bool](p, fmt.Sprintf(`
			window.opened = 0; window.received = {};
			for (let i = 0; i < %d; i++) {
				const es = new EventSource('/.well-known/mercure?topic=t' + i);
				es.onopen = () => { window.opened++; };
				es.onmessage = (e) => { window.received[i] = e.data; };
			}
			true`, streams))
		return p
	}

	t.Run("https", func(t *testing.T) {
		l, _ := runServeListening(t, "--tls-cert="+cert, "--tls-key="+key, "--jwt-key="+serveTestKey)
		p := openStreams(t, l.URL)
		p.WaitFor(fmt.Sprintf("all %d streams to open", streams), fmt.Sprintf(`window.opened === %d`, streams), 0)
		if proto := browsertest.Eval[string](p, `performance.getEntriesByType('navigation')[0].nextHopProtocol`); proto != "h2" {
			t.Errorf("the page was loaded over %q, want h2", proto)
		}
		for i := range streams {
			if status, body := servePublish(t, l.URL, pub, url.Values{"topic": {fmt.Sprintf("t%d", i)}, "data": {fmt.Sprintf("to %d", i)}}); status != http.StatusOK {
				t.Fatalf("publish: %d %q", status, body)
			}
		}
		p.WaitFor("every stream to receive its event", fmt.Sprintf(
			`Array.from({length: %d}, (_, i) => window.received[i] === 'to ' + i).every(Boolean)`, streams), 0)
	})

	t.Run("http/1.1 control", func(t *testing.T) {
		l, _ := runServeListening(t, "--jwt-key="+serveTestKey)
		p := openStreams(t, l.URL)
		p.WaitFor("6 streams to open", `window.opened >= 6`, 0)
		time.Sleep(time.Second) // the others, if they were going to open
		if n := browsertest.Eval[int](p, `window.opened`); n != 6 {
			t.Errorf("over HTTP/1.1, %d of %d streams opened; the browser was expected to allow 6 (if it allows more now, this test no longer shows why TLS matters)", n, streams)
		}
	})
}
