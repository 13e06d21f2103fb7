package main

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/web/browsertest"
)

// TestBrowserDraft08: in a real Chromium, a page of the hub's origin (over
// HTTPS) holds its draft-08 access token in the __Secure- cookie, as
// draft 08 says a browser does, and a plain EventSource subscribes with
// match_urlpattern=: it receives the private updates its token grants,
// published in either generation, with the ids a draft-07 EventSource of
// the same page receives, and the hub's own subscription events under the
// reserved event type mercure; fetch reads the subscriptions API with the
// same cookie, and its Link header (the reconciliation cursor), which the
// hub exposes.
func TestBrowserDraft08(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t, chromedp.Flag("ignore-certificate-errors", true))
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	issueCert(t, cert, key, 8)
	l, _ := runServeListening(t, "--tls-cert="+cert, "--tls-key="+key, "--jwt-key="+serveTestKey,
		"--issuer="+issuer08+"="+issuerKey08, "--subscriptions")
	hubURL := l.URL + mercure.Path
	tok := accessToken(t, hubURL, time.Hour, subscribe08(map[string]string{"user": "browser"},
		pattern08("https://example.com/books/:id"), pattern08(mercure.Path+"/subscriptions{/*}?")))

	p := b.NewPage(t)
	p.Do(chromedp.Navigate(l.URL + "/healthz")) // the hub's origin
	browsertest.Eval[bool](p, fmt.Sprintf(`
		document.cookie = %q + '=' + %q + '; Secure; Path=%s; SameSite=Strict';
		window.got08 = []; window.got07 = []; window.subEvents = []; window.opened = 0;
		const u = new URL(%q, location.href);
		u.searchParams.append('match_urlpattern', 'https://example.com/books/:id');
		u.searchParams.append('match_urlpattern', '%s/subscriptions/:type/:match/:subscriber');
		const es = new EventSource(u);
		es.onopen = () => { window.opened++; };
		es.onmessage = (e) => window.got08.push(e.lastEventId + ' ' + e.data);
		es.addEventListener('mercure', (e) => window.subEvents.push(JSON.parse(e.data)));
		const old = new EventSource(%q + '?topic=' + encodeURIComponent('https://example.com/books/{id}'));
		old.onopen = () => { window.opened++; };
		old.onmessage = (e) => window.got07.push(e.lastEventId + ' ' + e.data);
		true`, auth.AccessCookieName, tok, mercure.Path, mercure.Path, mercure.Path, mercure.Path))
	p.WaitFor("both streams to open", `window.opened === 2`, 0)

	pub07 := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	pub08 := accessToken(t, hubURL, time.Hour, publish08(exact08("*")))
	var ids []string
	for _, u := range []struct {
		tok  string
		form url.Values
	}{
		{pub08, url.Values{"topic": {"https://example.com/books/1"}, "data": {"private, by 08"}, "private": {"on"}}},
		{pub07, url.Values{"topic": {"https://example.com/books/2"}, "data": {"public, by 07"}}},
		{pub07, url.Values{"topic": {"https://example.com/authors/1"}, "data": {"not selected"}}},
		{pub07, url.Values{"topic": {"https://example.com/books/3"}, "data": {"private, by 07"}, "private": {"on"}}},
	} {
		resp, id := publishWith(t, l.URL, bearer(u.tok), u.form)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("publish: %s %q", resp.Status, id)
		}
		ids = append(ids, id)
	}
	want08 := fmt.Sprintf("%s private, by 08|%s public, by 07|%s private, by 07", ids[0], ids[1], ids[3])
	p.WaitFor("the draft-08 stream to receive what its cookie's token grants", `window.got08.join('|') === `+fmt.Sprintf("%q", want08), 0)
	// The draft-07 EventSource presents no draft-07 token: public only, same id.
	p.WaitFor("the draft-07 stream to receive the public update", `window.got07.length === 1`, 0)
	if got := browsertest.Eval[string](p, `window.got07[0]`); got != ids[1]+" public, by 07" {
		t.Errorf("the draft-07 EventSource received %q, want %q", got, ids[1]+" public, by 07")
	}
	if n := browsertest.Eval[int](p, `window.got08.length`); n != 3 {
		t.Errorf("the draft-08 stream received %d events, want 3", n)
	}
	// Its own subscription events: type mercure, draft-08 documents.
	p.WaitFor("its subscription events", `window.subEvents.length === 2`, 0)
	if got := browsertest.Eval[string](p, `window.subEvents.map(e => e.type + ' ' + e.match_type + ' ' + e.active + ' ' + JSON.stringify(e.payload)).sort().join('|')`); got !=
		`subscription urlpattern true {"user":"browser"}|subscription urlpattern true {"user":"browser"}` {
		t.Errorf("subscription events: %s", got)
	}

	// fetch with the cookie: the subscriptions API in draft-08 shape, and
	// the Link header it exposes.
	browsertest.Eval[bool](p, `
		window.api = null;
		fetch('`+mercure.Path+`/subscriptions').then(async (r) => {
			window.api = {status: r.status, type: r.headers.get('content-type'), link: r.headers.get('link'), body: await r.json()};
		});
		true`)
	p.WaitFor("the subscriptions API to answer", `window.api !== null`, 0)
	if got := browsertest.Eval[string](p, `[window.api.status, window.api.type, window.api.body.type, window.api.body.subscriptions.length].join(' ')`); got != "200 application/json subscriptions 2" {
		t.Errorf("subscriptions API from the page: %s", got)
	}
	if link := browsertest.Eval[string](p, `window.api.link`); !strings.Contains(link, `rel="mercure"`) || !strings.Contains(link, `last-event-id="`+ids[3]+`"`) {
		t.Errorf("the page read Link %q, want the cursor %q", link, ids[3])
	}
}
