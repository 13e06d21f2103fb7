package mercure_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/web/browsertest"
)

// corsPage is served by a server of its own, so that it is on another origin
// than the hub. Its functions report what the browser let the page see.
const corsPage = `<!doctype html><title>cors</title><script>
// publish POSTs an update with a bearer token (a preflighted request) and
// resolves to the status the page can read, or "blocked".
window.publish = async (hub, token) => {
  try {
    const r = await fetch(hub, {method: 'POST', headers: {'Authorization': 'Bearer ' + token,
      'Content-Type': 'application/x-www-form-urlencoded'}, body: 'topic=t&data=from+the+page'});
    return String(r.status) + ' ' + (await r.text()).trim().length;
  } catch (e) { return 'blocked'; }
};
// watch opens an EventSource, with or without credentials (the hub's cookie),
// and records what it receives in window.got.
window.got = [];
window.watch = (url, withCredentials) => {
  const es = new EventSource(url, {withCredentials});
  es.onopen = () => window.got.push('open');
  es.onmessage = (e) => window.got.push(e.data);
  es.onerror = () => { window.got.push('error'); es.close(); };
};
</script>`

// TestCORSBrowser: what Chromium lets a page on another origin do.
//   - A listed origin may publish with an Authorization header (a preflighted
//     request) and subscribe with the hub's cookie (credentials).
//   - "*" lets any origin publish with an Authorization header and
//     subscribe without credentials, but never with them: the cookie of a
//     user logged in to the hub does not let any site read their private
//     updates.
func TestCORSBrowser(t *testing.T) {
	b := browsertest.New(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, corsPage)
	}))
	t.Cleanup(page.Close)
	origin := page.URL

	listed := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{CORSOrigins: []string{origin}}})
	anyOrigin := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{CORSOrigins: []string{"*"}}})
	for _, tc := range []struct {
		name            string
		env             *hubtest.Env
		withCredentials bool
		want            string // what the page receives
	}{
		{"listed origin, with the cookie", listed, true, "private"},
		{"listed origin, without credentials", listed, false, "public"},
		{"any origin, without credentials", anyOrigin, false, "public"},
		{"any origin, with the cookie", anyOrigin, true, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.NewPage(t)
			tok := hubtest.SubscriberToken(t, "t")
			p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
					Name: auth.CookieName, Value: tok, URL: tc.env.Server.URL, Path: mercure.Path,
				})
				return err
			}))
			p.Do(chromedp.Navigate(page.URL))

			got := browsertest.Eval[string](p, fmt.Sprintf(`publish(%q, %q)`, tc.env.URL, hubtest.PublisherToken(t)))
			if !strings.HasPrefix(got, "200 ") {
				t.Errorf("publishing with an Authorization header from %s: %s, want 200", origin, got)
			}

			p.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`watch(%q, %v)`, tc.env.URL+"?topic=t", tc.withCredentials)))
			if tc.want == "error" {
				p.WaitFor("the refused stream", `window.got.includes('error')`, 0)
				// Publish a private update anyway: it must never reach the page.
				tc.env.Publish(t, map[string][]string{"topic": {"t"}, "data": {"private"}, "private": {"on"}})
				if got := browsertest.Eval[[]string](p, `window.got`); strings.Contains(strings.Join(got, ","), "private") || got[0] == "open" {
					t.Errorf("a page of any origin, with the hub's cookie, received %q", got)
				}
				return
			}
			p.WaitFor("the stream to open", `window.got.includes('open')`, 0)
			tc.env.Publish(t, map[string][]string{"topic": {"t"}, "data": {"private"}, "private": {"on"}})
			tc.env.PublishData(t, "public", "t")
			p.WaitFor("the public update", `window.got.includes('public')`, 0)
			got2 := browsertest.Eval[[]string](p, `window.got`)
			gotPrivate := strings.Contains(strings.Join(got2, ","), "private")
			if gotPrivate != (tc.want == "private") {
				t.Errorf("the page received %q; private update expected: %v", got2, tc.want == "private")
			}
		})
	}
}
