package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/web"
)

func TestDemoStreamGreetsEachConnectionPrivately(t *testing.T) {
	s := newDemoServer(t, web.Config{AllowPublish: true})

	a := openStream(t, s.URL+"/demo/stream", nil)
	if got, want := a.resp.Header.Get("Content-Type"), "text/event-stream; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	ev := a.next(t)
	if ev.Type != "welcome" || ev.ID == "" || !strings.Contains(ev.Data, "Welcome!") || !strings.Contains(ev.Data, "the only one here") {
		t.Fatalf("first event = %+v, want a welcome with an id, for the only one here", ev)
	}

	b := openStream(t, s.URL+"/demo/stream", nil)
	if ev := b.next(t); ev.Type != "welcome" || !strings.Contains(ev.Data, "2 people") {
		t.Fatalf("second stream's first event = %+v, want a welcome for 2 people", ev)
	}
	// b's greeting was private to b: a's next event is the message below.
	s.publish(t, web.DefaultTopic, "", "after the greetings")
	if ev := a.next(t); ev.Type != "message" || ev.Data != "after the greetings" {
		t.Fatalf("a's next event = %+v, want the message (and not b's greeting)", ev)
	}
	if ev := b.next(t); ev.Data != "after the greetings" {
		t.Fatalf("b's next event = %+v, want the message", ev)
	}
}

func TestDemoStreamResumesAfterLastEventID(t *testing.T) {
	s := newDemoServer(t, web.Config{})
	first := openStream(t, s.URL+"/demo/stream", nil)
	welcome := first.next(t)
	first.cancel()

	s.publish(t, web.DefaultTopic, "", "missed 1")
	s.publish(t, "another/topic", "", "not for the demo")
	s.publish(t, web.DefaultTopic, "", "missed 2\nline two")

	for _, how := range []string{"header", "query"} {
		t.Run(how, func(t *testing.T) {
			u, hdr := s.URL+"/demo/stream", http.Header{}
			if how == "header" {
				hdr.Set("Last-Event-ID", welcome.ID)
			} else {
				u += "?lastEventID=" + welcome.ID
			}
			again := openStream(t, u, hdr)
			if got := again.resp.Header.Get("Last-Event-ID"); got != welcome.ID {
				t.Errorf("Last-Event-ID response header = %q, want %q", got, welcome.ID)
			}
			for _, want := range []string{"missed 1", "missed 2\nline two"} {
				if ev := again.next(t); ev.Data != want {
					t.Fatalf("replayed %+v, want data %q", ev, want)
				}
			}
			if ev := again.next(t); ev.Type != "welcome" || !strings.HasPrefix(ev.Data, "Welcome back!") || !strings.Contains(ev.Data, welcome.ID) {
				t.Fatalf("after history got %+v, want a welcome back naming %s", ev, welcome.ID)
			}
		})
	}
}

func TestDemoStreamTellsAboutAGap(t *testing.T) {
	s := newDemoServer(t, web.Config{})
	st := openStream(t, s.URL+"/demo/stream?lastEventID=urn:herald:gone:7", nil)
	ev := st.next(t)
	if ev.Type != hub.GapEventType || !strings.Contains(ev.Data, "urn:herald:gone:7") {
		t.Fatalf("first event = %+v, want a %s event naming the id", ev, hub.GapEventType)
	}
	if ev := st.next(t); ev.Type != "welcome" {
		t.Fatalf("then %+v, want the welcome", ev)
	}
}

func TestDemoStreamRejectsBadLastEventID(t *testing.T) {
	s := newDemoServer(t, web.Config{})
	resp, err := http.Get(s.URL + "/demo/stream?lastEventID=" + strings.Repeat("x", 300))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

func TestDemoSendPublishesExactlyWhatWasSent(t *testing.T) {
	s := newDemoServer(t, web.Config{AllowPublish: true})
	st := openStream(t, s.URL+"/demo/stream", nil)
	st.next(t) // welcome

	text := "Hello, 世界 👋\n  indented line\r\n<b>not bold</b> & \"quotes\"\n"
	body, _ := json.Marshal(map[string]string{"data": text})
	for _, tc := range []struct{ name, contentType, body string }{
		{"json", "application/json", string(body)},
		{"form", "application/x-www-form-urlencoded", form("data", text)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, resp := post(t, s.URL+"/demo/send", tc.contentType, tc.body, "")
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, resp)
			}
			var got struct{ ID string }
			if err := json.Unmarshal([]byte(resp), &got); err != nil || got.ID == "" {
				t.Fatalf("response %q: want {\"id\": ...}", resp)
			}
			ev := st.next(t)
			// SSE turns CRLF into LF; everything else arrives as sent.
			if want := strings.ReplaceAll(text, "\r\n", "\n"); ev.Type != "message" || ev.Data != want || ev.ID != got.ID {
				t.Fatalf("received %+v, want message %q with id %s", ev, want, got.ID)
			}
			ann := st.next(t)
			if ann.Type != "announce" || !strings.Contains(ann.Data, "Someone sent a message") {
				t.Fatalf("then %+v, want an announcement", ann)
			}
		})
	}
}

func TestDemoSendRejects(t *testing.T) {
	on := newDemoServer(t, web.Config{AllowPublish: true, MaxMessageBytes: 16, SendBurst: 100, GlobalSendBurst: 100})
	off := newDemoServer(t, web.Config{AllowPublish: false})
	jsonOf := func(s string) string { b, _ := json.Marshal(map[string]string{"data": s}); return string(b) }
	for _, tc := range []struct {
		name        string
		server      *demoServer
		contentType string
		body        string
		status      int
		says        string
	}{
		{"turned off", off, "application/json", jsonOf("hi"), http.StatusForbidden, "--demo=false"},
		{"too long", on, "application/json", jsonOf(strings.Repeat("é", 9)), http.StatusRequestEntityTooLarge, "16 bytes"},
		{"too long form", on, "application/x-www-form-urlencoded", form("data", strings.Repeat("x", 17)), http.StatusRequestEntityTooLarge, "16 bytes"},
		{"huge body", on, "application/json", jsonOf(strings.Repeat("x", 1<<20)), http.StatusRequestEntityTooLarge, "16 bytes"},
		{"empty", on, "application/json", jsonOf(" \n "), http.StatusBadRequest, "empty"},
		{"malformed JSON", on, "application/json", `{"data": `, http.StatusBadRequest, "malformed JSON"},
		{"unknown field", on, "application/json", `{"data": "x", "topic": "elsewhere"}`, http.StatusBadRequest, "unknown field"},
		{"NUL", on, "application/json", jsonOf("a\x00b"), http.StatusBadRequest, "NUL"},
		{"invalid UTF-8", on, "application/x-www-form-urlencoded", "data=%ff%fe", http.StatusBadRequest, "UTF-8"},
		{"plain text", on, "text/plain", "hi", http.StatusUnsupportedMediaType, "send JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := post(t, tc.server.URL+"/demo/send", tc.contentType, tc.body, "")
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Fatalf("got %d %q, want %d saying %q", status, body, tc.status, tc.says)
			}
		})
	}
	t.Run("exactly the limit", func(t *testing.T) {
		if status, _, body := post(t, on.URL+"/demo/send", "application/json", jsonOf(strings.Repeat("é", 8)), ""); status != http.StatusOK {
			t.Fatalf("16 bytes: %d %s", status, body)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(on.URL + "/demo/send")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Fatalf("GET: %d, Allow %q; want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	// Nothing rejected reached the store: only the one accepted message and
	// its announcement.
	if n := on.Demo.Stats().Events; n > 2 {
		t.Errorf("the store saw %d updates, want at most 2", n)
	}
}

func TestDemoSendIsRateLimitedPerClientAndGlobally(t *testing.T) {
	s := newDemoServer(t, web.Config{
		AllowPublish: true,
		SendRate:     0.001, SendBurst: 2, // two messages, then one every 1000 s
		GlobalSendRate: 0.001, GlobalSendBurst: 3,
	})
	msg := `{"data": "hi"}`
	for i := range 2 {
		if status, _, body := post(t, s.URL+"/demo/send", "application/json", msg, "127.0.0.1"); status != http.StatusOK {
			t.Fatalf("message %d: %d %s", i+1, status, body)
		}
	}
	status, hdr, body := post(t, s.URL+"/demo/send", "application/json", msg, "127.0.0.1")
	if status != http.StatusTooManyRequests || !strings.Contains(body, "slow down") {
		t.Fatalf("third message: %d %q, want 429 saying to slow down", status, body)
	}
	if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs < 900 {
		t.Errorf("Retry-After = %q, want about 1000 seconds", hdr.Get("Retry-After"))
	}
	// Another client has its own bucket, but the global one holds 3.
	if status, _, body := post(t, s.URL+"/demo/send", "application/json", msg, "127.0.0.2"); status != http.StatusOK {
		t.Fatalf("another client: %d %s", status, body)
	}
	if status, _, body := post(t, s.URL+"/demo/send", "application/json", msg, "127.0.0.2"); status != http.StatusTooManyRequests {
		t.Fatalf("over the global limit: %d %s, want 429", status, body)
	}
}

func TestDemoStats(t *testing.T) {
	s := newDemoServer(t, web.Config{AllowPublish: true})
	st := openStream(t, s.URL+"/demo/stream", nil)
	st.next(t)
	other := openStream(t, s.URL+"/demo/stream", nil)
	other.next(t)

	resp, err := http.Get(s.URL + "/demo/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got web.Stats
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Subscribers != 2 || got.DemoSubscribers != 2 || !got.Publish || got.Time.IsZero() {
		t.Fatalf("stats = %+v, want 2 subscribers, 2 on the demo, publish on", got)
	}
}

func TestDemoCORS(t *testing.T) {
	const allowed = "http://app.example"
	s := newDemoServer(t, web.Config{AllowPublish: true, CORSOrigins: []string{allowed}})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+"/demo/send", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(allowed)
	if resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != allowed ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from an allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin got Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	st := openStream(t, s.URL+"/demo/stream", http.Header{"Origin": {allowed}})
	if st.resp.Header.Get("Access-Control-Allow-Origin") != allowed || st.resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("stream CORS headers: %v", st.resp.Header)
	}
}

func TestDemoPage(t *testing.T) {
	s := newDemoServer(t, web.Config{Topic: "news", AllowPublish: true, MaxMessageBytes: 512, HubURL: "http://hub.example:8080"})
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self' http://hub.example:8080"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	for _, want := range []string{`data-hub="http://hub.example:8080"`, `data-topic="news"`, `data-publish="true"`, `data-max-bytes="512"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %s", want)
		}
	}

	// Every asset the page links to is served, versioned and revalidated.
	refs := regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(refs) != 2 {
		t.Fatalf("the page links to %d assets, want 2 (app.js, style.css)", len(refs))
	}
	bodies := []string{string(page)}
	for _, ref := range refs {
		resp, err := http.Get(s.URL + "/" + ref[1])
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d, ETag %q, Cache-Control %q", ref[1], resp.StatusCode, etag, resp.Header.Get("Cache-Control"))
		}
		bodies = append(bodies, string(body))
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/"+ref[1], nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d, want 304", ref[1], resp.StatusCode)
		}
	}

	// No external resource: nothing is loaded from another host.
	external := regexp.MustCompile(`(?i)(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import`)
	for i, body := range bodies {
		if m := external.FindString(body); m != "" {
			t.Errorf("file %d loads an external resource: %q", i, m)
		}
	}
	// Data from the network is never parsed as HTML.
	if strings.Contains(bodies[1]+bodies[2], "innerHTML") || strings.Contains(bodies[1]+bodies[2], "insertAdjacentHTML") {
		t.Error("app.js uses innerHTML or insertAdjacentHTML")
	}

	for _, path := range []string{"/nope", "/assets/nope.js", "/assets/../web.go"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestDemoNewValidatesConfig(t *testing.T) {
	h := hub.New(memory.New(memory.Options{}), hub.Options{Heartbeat: -1, Logger: quiet})
	t.Cleanup(func() { _ = h.Close(t.Context()) })
	for _, cfg := range []web.Config{
		{},
		{Hub: h, Topic: "demo/{id}"},
		{Hub: h, Topic: "*"},
		{Hub: h, Topic: "bad\ntopic"},
		{Hub: h, HubURL: "ftp://hub.example"},
		{Hub: h, HubURL: "http://hub.example/some/path"},
		{Hub: h, HubURL: "hub.example"},
	} {
		if _, err := web.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	if _, err := web.New(web.Config{Hub: h, HubURL: "https://hub.example/"}); err != nil {
		t.Errorf("a hub URL with a trailing slash: %v", err)
	}
}

// TestDemoStreamSaysWhenLive: with liveEvent=1 (as herald.js asks), the
// demo stream sends herald-live once the history it resumed from is sent,
// so the page can mark what came before as replayed.
func TestDemoStreamSaysWhenLive(t *testing.T) {
	s := newDemoServer(t, web.Config{})
	first := openStream(t, s.URL+"/demo/stream?liveEvent=1", nil)
	if ev := first.next(t); ev.Type != hub.LiveEventType || ev.Data != `{"replayed":0}` || ev.ID != "" {
		t.Fatalf("a fresh stream's first event = %+v, want %s with no id, 0 replayed", ev, hub.LiveEventType)
	}
	welcome := first.next(t)
	first.cancel()
	s.publish(t, web.DefaultTopic, "", "missed 1")
	s.publish(t, web.DefaultTopic, "", "missed 2")

	again := openStream(t, s.URL+"/demo/stream?liveEvent=1", http.Header{"Last-Event-ID": {welcome.ID}})
	for _, want := range []string{"missed 1", "missed 2"} {
		if ev := again.next(t); ev.Data != want {
			t.Fatalf("replayed %+v, want %q", ev, want)
		}
	}
	// The greeting is stored before the history is read (so that it cannot
	// be missed): it closes the history.
	if ev := again.next(t); ev.Type != "welcome" || !strings.HasPrefix(ev.Data, "Welcome back!") {
		t.Fatalf("then %+v, want the welcome back", ev)
	}
	if ev := again.next(t); ev.Type != hub.LiveEventType || ev.Data != `{"replayed":3}` {
		t.Fatalf("after the history: %+v, want %s saying 3 replayed", ev, hub.LiveEventType)
	}
}
