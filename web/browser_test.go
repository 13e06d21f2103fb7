package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/web"
	"github.com/herald-sse/herald/web/browsertest"
)

// entry is one line of an event log on the page.
type entry struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data string `json:"data"`
}

// entries returns the entries of the log list (newest first).
func entries(p *browsertest.Page, list string) []entry {
	return browsertest.Eval[[]entry](p, fmt.Sprintf(
		`[...document.querySelectorAll('#%s > li')].map(li => ({type: li.dataset.type, id: li.dataset.id || '', data: li.querySelector('.data').textContent}))`, list))
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// hasEntry is a JavaScript predicate: the log list holds an entry of type
// typ whose data is exactly data.
func hasEntry(list, typ, data string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#%s > li')].some(li => li.dataset.type === %s && li.querySelector('.data').textContent === %s)`,
		list, js(typ), js(data))
}

func stateIs(state string) string {
	return fmt.Sprintf(`document.getElementById('state').dataset.state === %s`, js(state))
}

// open loads url in a new page and waits until its demo stream is open and
// greeted.
func open(t *testing.T, b *browsertest.Browser, url string) *browsertest.Page {
	t.Helper()
	p := b.NewPage(t)
	p.Do(chromedp.Navigate(url))
	p.WaitFor("the stream to open", stateIs("open"), 0)
	p.WaitFor("the welcome event", `document.querySelector('#log > li[data-type="welcome"]') !== null`, 0)
	return p
}

// send types text in the message box and clicks Send.
func send(p *browsertest.Page, text string) {
	p.Do(chromedp.SetValue(chromedp.ID("message"), text), chromedp.Click(chromedp.ID("send")))
	p.WaitFor("the hub to accept the message", `document.getElementById('send-status').dataset.kind === 'ok'`, 0)
}

// checkUnique fails t when the log list shows an event id twice.
func checkUnique(t *testing.T, p *browsertest.Page, list string) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range entries(p, list) {
		if e.ID == "" {
			continue
		}
		if seen[e.ID] {
			t.Errorf("event %s is shown twice", e.ID)
		}
		seen[e.ID] = true
	}
}

func count(es []entry, typ, data string) int {
	n := 0
	for _, e := range es {
		if e.Type == typ && e.Data == data {
			n++
		}
	}
	return n
}

// TestDemoBrowser drives the demo page in a real headless Chromium. The
// subtests share one browser; each page has a browser context of its own.
func TestDemoBrowser(t *testing.T) {
	b := browsertest.New(t)
	t.Logf("screenshots go to %s", b.Artifacts())

	t.Run("greeting and periodic events arrive", func(t *testing.T) {
		s := startStack(t, stackConfig{interval: 300 * time.Millisecond})
		p := open(t, b, s.URL)
		got := entries(p, "log")
		if welcome := got[len(got)-1]; welcome.Type != "welcome" || !strings.HasPrefix(welcome.Data, "Welcome!") || welcome.ID == "" {
			t.Fatalf("oldest entry = %+v, want the welcome with an id", welcome)
		}
		p.WaitFor("two ticks", `document.querySelectorAll('#log > li[data-type="tick"]').length >= 2`, 0)
		p.WaitFor("the live figures", `document.getElementById('fig-subs').textContent === '1'`, 0)
		if got := browsertest.Eval[string](p, `document.getElementById('last-id').textContent`); !strings.HasPrefix(got, "urn:herald:") {
			t.Errorf("last id shown = %q", got)
		}
		checkUnique(t, p, "log")
	})

	t.Run("a message sent in one page reaches two others", func(t *testing.T) {
		s := startStack(t, stackConfig{interval: time.Hour})
		pages := []*browsertest.Page{open(t, b, s.URL), open(t, b, s.URL), open(t, b, s.URL)}

		text := "Hello, 世界 👋 — ça va?\n  two spaces, then a tab:\tand <b>no HTML</b> & \"quotes\"\n\nlast line"
		send(pages[0], text)
		for i, p := range pages {
			p.WaitFor(fmt.Sprintf("page %d to receive the message", i+1), hasEntry("log", "message", text), 0)
			p.WaitFor(fmt.Sprintf("page %d to see the announcement", i+1),
				`document.querySelector('#log > li[data-type="announce"] .data')?.textContent.startsWith('Someone sent a message')`, 0)
		}
		// Rendered as text, never as HTML.
		if n := browsertest.Eval[int](pages[1], `document.querySelectorAll('#log b').length`); n != 0 {
			t.Errorf("the data was parsed as HTML: %d <b> elements", n)
		}

		// The keyboard path: type in the box, Ctrl+Enter sends.
		pages[1].Do(
			chromedp.SendKeys(chromedp.ID("message"), "typed on the keyboard"),
			chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		)
		for i, p := range pages {
			p.WaitFor(fmt.Sprintf("page %d to receive the typed message", i+1), hasEntry("log", "message", "typed on the keyboard"), 0)
		}
		send(pages[2], "Multi-line text and any language show exactly:\nΚαλημέρα · こんにちは · مرحبا")
		for _, p := range pages {
			p.WaitFor("the third message", hasEntry("log", "message", "Multi-line text and any language show exactly:\nΚαλημέρα · こんにちは · مرحبا"), 0)
			checkUnique(t, p, "log")
		}
		if got := browsertest.Eval[string](pages[0], `document.getElementById('message').value`); got != "" {
			t.Errorf("the message box still holds %q after sending", got)
		}
		// Let the chart gather a few points, for the screenshot.
		pages[2].WaitFor("the chart", `document.getElementById('people').textContent === '3 people here'`, 0)
		time.Sleep(2500 * time.Millisecond)
		pages[2].Screenshot("demo")
	})

	t.Run("close and connect resume without loss", func(t *testing.T) {
		s := startStack(t, stackConfig{interval: time.Hour})
		p := open(t, b, s.URL)
		p.Do(chromedp.Click(chromedp.ID("close")))
		p.WaitFor("the closed state", stateIs("closed")+` && document.getElementById('connect').disabled === false`, 0)

		var missed []herald.Update
		for i := range 3 {
			missed = append(missed, s.publish(t, herald.Update{Topics: []string{web.DefaultTopic}, Data: fmt.Sprintf("published while closed #%d", i+1)}))
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(entries(p, "log")); n != 1 {
			t.Fatalf("a closed page shows %d entries, want only the welcome", n)
		}
		p.Screenshot("demo-closed")

		p.Do(chromedp.Click(chromedp.ID("connect")))
		p.WaitFor("the stream to reopen", stateIs("open"), 0)
		p.WaitFor("the welcome back", `[...document.querySelectorAll('#log > li[data-type="welcome"] .data')].some(d => d.textContent.startsWith('Welcome back!'))`, 0)
		got := entries(p, "log")
		// Newest first: welcome back, #3, #2, #1, welcome.
		if len(got) != 5 {
			t.Fatalf("log = %+v, want 5 entries", got)
		}
		for i, u := range missed {
			e := got[3-i]
			if e.ID != u.ID || e.Data != u.Data {
				t.Errorf("entry %d = %+v, want %s %q", 3-i, e, u.ID, u.Data)
			}
		}
		checkUnique(t, p, "log")
		// What came from history is marked as replayed; the greetings and
		// what follows are not.
		replayed := browsertest.Eval[[]bool](p, `[...document.querySelectorAll('#log > li')].map(li => li.dataset.replayed === 'true')`)
		if want := []bool{false, true, true, true, false}; fmt.Sprint(replayed) != fmt.Sprint(want) {
			t.Errorf("replayed marks (newest first) = %v, want %v", replayed, want)
		}
		if n := browsertest.Eval[int](p, `document.querySelectorAll('#log .replayed').length`); n != 3 {
			t.Errorf("%d entries say they were replayed, want 3", n)
		}
		live := s.publish(t, herald.Update{Topics: []string{web.DefaultTopic}, Data: "live again"})
		p.WaitFor("the live message", hasEntry("log", "message", live.Data), 0)
		if browsertest.Eval[bool](p, `document.querySelector('#log > li').dataset.replayed === 'true'`) {
			t.Error("a live message is marked as replayed")
		}
	})

	t.Run("server restart: reconnecting, then history, no duplicates", func(t *testing.T) {
		dir := t.TempDir()
		first := startStack(t, stackConfig{boltDir: dir, interval: time.Hour})
		p := open(t, b, first.URL)
		before := first.publish(t, herald.Update{Topics: []string{web.DefaultTopic}, Data: "before the restart"})
		p.WaitFor("the first message", hasEntry("log", "message", before.Data), 0)

		// A message box complaint from before the hub went away.
		p.Do(chromedp.SetValue(chromedp.ID("message"), "  "), chromedp.Click(chromedp.ID("send")))
		p.WaitFor("the complaint", `document.getElementById('send-status').textContent === 'Type a message first.'`, 0)

		first.stop()
		p.WaitFor("the reconnecting state", stateIs("reconnecting"), 10*time.Second)
		p.WaitFor("the log to say the hub is unreachable", `document.querySelector('#log > li').dataset.type === 'hub-down'`, 0)
		p.Screenshot("demo-reconnecting")

		second := startStack(t, stackConfig{boltDir: dir, addr: first.Addr, interval: time.Hour})
		after := []string{"after the restart, 1", "after the restart, 2\nwith a second line"}
		for _, data := range after {
			second.publish(t, herald.Update{Topics: []string{web.DefaultTopic}, Data: data})
		}
		for _, data := range after {
			p.WaitFor("the messages published after the restart", hasEntry("log", "message", data), 20*time.Second)
		}
		p.WaitFor("the open state", stateIs("open"), 0)
		got := entries(p, "log")
		if n := count(got, "message", before.Data); n != 1 {
			t.Errorf("the message from before the restart is shown %d times", n)
		}
		// The log says when the hub went away and when it came back, in
		// that order, around what was missed.
		var order []string
		for i := len(got) - 1; i >= 0; i-- {
			if e := got[i]; e.Type == "hub-down" || e.Type == "hub-up" || e.Data == after[0] {
				order = append(order, e.Type)
			}
		}
		if want := []string{"hub-down", "hub-up", "message"}; fmt.Sprint(order) != fmt.Sprint(want) {
			t.Errorf("oldest first, the log shows %v, want %v", order, want)
		}
		if got := browsertest.Eval[string](p, `document.getElementById('send-status').textContent`); got != "" {
			t.Errorf("after the reconnection the send status still says %q", got)
		}
		checkUnique(t, p, "log")
		p.Screenshot("demo-resumed")
	})

	t.Run("tabs share one connection", func(t *testing.T) {
		s := startStack(t, stackConfig{interval: time.Hour})
		anchor := b.NewPage(t) // a browser profile; its tabs are siblings
		var tabs []*browsertest.Page
		for range 3 {
			p := anchor.NewTab(t)
			p.Do(chromedp.Navigate(s.URL))
			p.WaitFor("the stream to open", stateIs("open"), 0)
			tabs = append(tabs, p)
		}
		for i, p := range tabs {
			p.WaitFor(fmt.Sprintf("tab %d to show it shares with 3 tabs", i+1),
				`document.getElementById('share').textContent.endsWith('(3 tabs)')`, 0)
			p.WaitFor("one subscriber at the hub", `document.getElementById('fig-subs').textContent === '1'`, 0)
		}
		if n := s.Hub.Subscribers(); n != 1 {
			t.Errorf("the hub has %d subscribers for 3 tabs, want 1", n)
		}
		roles := map[string]int{}
		for _, p := range tabs {
			roles[browsertest.Eval[string](p, `document.getElementById('share').dataset.role`)]++
		}
		if roles["leader"] != 1 || roles["follower"] != 2 {
			t.Errorf("roles %v, want 1 leader and 2 followers", roles)
		}
		for _, p := range tabs {
			// Followers say so in the log (they get no greeting of their own).
			role := browsertest.Eval[string](p, `document.getElementById('share').dataset.role`)
			if said := browsertest.Eval[bool](p, `document.querySelector('#log > li[data-type="shared"]') !== null`); said != (role == "follower") {
				t.Errorf("a %s tab says it shares another's connection: %v", role, said)
			}
		}
		send(tabs[2], "one connection, three tabs")
		for i, p := range tabs {
			p.WaitFor(fmt.Sprintf("tab %d to receive the message", i+1), hasEntry("log", "message", "one connection, three tabs"), 0)
			checkUnique(t, p, "log")
		}
		tabs[1].Screenshot("demo-shared")
	})

	t.Run("a private topic needs the cookie or the token", func(t *testing.T) {
		s := startStack(t, stackConfig{interval: time.Hour})
		sub := token(t, auth.Grant{Subscribe: []string{"private/{id}"}})
		pub := token(t, auth.Grant{Publish: []string{"private/{id}"}})

		watch := func(p *browsertest.Page, tok string) {
			p.Do(chromedp.SetValue(chromedp.ID("watch-topics"), "private/1"))
			if tok != "" {
				p.Do(chromedp.SetValue(chromedp.ID("watch-token"), tok))
			}
			p.Do(chromedp.Click(chromedp.ID("watch-start")))
			p.WaitFor("the watch to open", `document.getElementById('watch-state').textContent.startsWith('watching')`, 0)
		}
		anonymous := open(t, b, s.URL)
		watch(anonymous, "")
		withToken := open(t, b, s.URL)
		watch(withToken, sub)
		withCookie := b.NewPage(t)
		withCookie.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
				Name: auth.CookieName, Value: sub, URL: s.URL, Path: "/.well-known/mercure", HTTPOnly: new(true),
			})
			return err
		}))
		withCookie.Do(chromedp.Navigate(s.URL))
		watch(withCookie, "")

		// Publishing without a token is refused, with the hub's reason.
		withToken.Do(
			chromedp.SetValue(chromedp.ID("pub-topic"), "private/1"),
			chromedp.SetValue(chromedp.ID("pub-data"), "secret ✓\nsecond line"),
			chromedp.Click(chromedp.ID("pub-private")),
			chromedp.Click(chromedp.ID("pub-send")),
		)
		withToken.WaitFor("the refusal", `document.getElementById('pub-status').textContent.startsWith('401')`, 0)
		// With the publisher token it goes through.
		withToken.Do(chromedp.SetValue(chromedp.ID("pub-token"), pub), chromedp.Click(chromedp.ID("pub-send")))
		withToken.WaitFor("the publication", `document.getElementById('pub-status').textContent.startsWith('Published as urn:herald:')`, 0)
		public := s.publish(t, herald.Update{Topics: []string{"private/1"}, Data: "public, after the secret"})

		for name, p := range map[string]*browsertest.Page{"token": withToken, "cookie": withCookie} {
			p.WaitFor("the private update with the "+name, hasEntry("watch-log", "message", "secret ✓\nsecond line"), 0)
			p.WaitFor("the public update with the "+name, hasEntry("watch-log", "message", public.Data), 0)
		}
		// Updates arrive in order: once the public one is there, the private
		// one would have been too.
		anonymous.WaitFor("the public update without credentials", hasEntry("watch-log", "message", public.Data), 0)
		if got := entries(anonymous, "watch-log"); len(got) != 1 {
			t.Errorf("without a token or cookie the page received %+v, want only the public update", got)
		}
		withToken.Screenshot("demo-debug-private")

		// A bad token: the page says why the hub refused the stream.
		anonymous.Do(
			chromedp.SetValue(chromedp.ID("watch-token"), "not-a-token"),
			chromedp.Click(chromedp.ID("watch-start")),
		)
		anonymous.WaitFor("the hub's reason", `document.getElementById('watch-state').textContent.startsWith('401: invalid subscriber token')`, 0)
	})

	t.Run("the page works from another origin (CORS with credentials)", func(t *testing.T) {
		pageLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pageOrigin := "http://" + pageLn.Addr().String()
		hubStack := startStack(t, stackConfig{cors: []string{pageOrigin}, interval: time.Hour})
		pageStack := startStack(t, stackConfig{ln: pageLn, hubURL: hubStack.URL})
		if pageStack.URL == hubStack.URL {
			t.Fatal("the page and the hub share an origin")
		}

		sub := token(t, auth.Grant{Subscribe: []string{"private/{id}"}})
		p := b.NewPage(t)
		// The hub's cookie: the host is the same, the port (and so the
		// origin) differs, so the page is same-site but cross-origin.
		p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
				Name: auth.CookieName, Value: sub, URL: hubStack.URL, Path: "/.well-known/mercure", HTTPOnly: new(true),
			})
			return err
		}))
		p.Do(chromedp.Navigate(pageStack.URL))
		p.WaitFor("the stream from the other origin to open", stateIs("open"), 0)
		p.WaitFor("the welcome from the hub", `document.querySelector('#log > li[data-type="welcome"]') !== null`, 0)
		if got := browsertest.Eval[string](p, `location.origin`); got != pageOrigin {
			t.Fatalf("the page's origin is %s, want %s", got, pageOrigin)
		}
		send(p, "sent across origins")
		p.WaitFor("the message", hasEntry("log", "message", "sent across origins"), 0)
		p.WaitFor("the hub's figures", `document.getElementById('fig-subs').textContent === '1'`, 0)

		p.Do(
			chromedp.SetValue(chromedp.ID("watch-topics"), "private/{id}"),
			chromedp.Click(chromedp.ID("watch-start")),
		)
		p.WaitFor("the watch to open", `document.getElementById('watch-state').textContent.startsWith('watching')`, 0)
		hubStack.publish(t, herald.Update{Topics: []string{"private/7"}, Private: true, Data: "private, through CORS with the cookie"})
		p.WaitFor("the private update", hasEntry("watch-log", "message", "private, through CORS with the cookie"), 0)
		p.Screenshot("demo-cross-origin")

		// A hub that does not allow the page's origin cannot be used.
		closedHub := startStack(t, stackConfig{interval: time.Hour})
		otherLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		otherPage := startStack(t, stackConfig{ln: otherLn, hubURL: closedHub.URL})
		q := b.NewPage(t)
		q.Do(chromedp.Navigate(otherPage.URL))
		q.WaitFor("the refused stream", `document.getElementById('state-text').textContent.startsWith('reconnecting (retry')`, 0)
	})

	t.Run("readable on a phone, and sending can be turned off", func(t *testing.T) {
		s := startStack(t, stackConfig{noSend: true, interval: 400 * time.Millisecond})
		p := b.NewPage(t)
		p.Do(
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
				})
				return err
			}),
			chromedp.Navigate(s.URL),
		)
		p.WaitFor("the stream to open", stateIs("open"), 0)
		p.WaitFor("a tick", `document.querySelector('#log > li[data-type="tick"]') !== null`, 0)
		if w := browsertest.Eval[int](p, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
			t.Errorf("the page is %d px wider than a phone's screen", w)
		}
		if !browsertest.Eval[bool](p, `document.getElementById('send').disabled && document.getElementById('message').disabled`) {
			t.Error("with sending turned off, the message box and button are enabled")
		}
		// Every form control has a label.
		if unlabelled := browsertest.Eval[[]string](p,
			`[...document.querySelectorAll('input, textarea')].filter(e => e.labels.length === 0).map(e => e.id)`); len(unlabelled) > 0 {
			t.Errorf("controls without a label: %v", unlabelled)
		}
		p.Screenshot("demo-phone-dark")
	})
}
