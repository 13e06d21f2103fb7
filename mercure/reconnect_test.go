package mercure_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// TestResume: Last-Event-ID (header, else the lastEventID query parameter)
// replays the events after that id, then live events follow; the response's
// Last-Event-ID header names the id asked for when history holds it, and
// "earliest" when it does not or when everything was asked for.
func TestResume(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m})
			watcher := e.Subscribe(t, hubtest.Topics("*"), nil)
			var published []string
			for i := range 5 {
				published = append(published, e.PublishData(t, fmt.Sprint(i), "t"))
			}
			chosen := e.Publish(t, url.Values{"topic": {"t"}, "data": {"5"}, "id": {"chosen-id"}})
			published = append(published, chosen)
			watcher.Until(t, chosen) // the live tail has caught up with history
			q := hubtest.Topics("t")
			// after is the index in published of the id resumed from (-1:
			// none held); the replay is what follows it.
			for _, tc := range []struct {
				name       string
				query      string
				hdr        func() http.Header
				wantHeader func() string
				after      int
			}{
				{"header", q, func() http.Header { return http.Header{"Last-Event-ID": {published[1]}} }, func() string { return published[1] }, 1},
				{"query", q + "&lastEventID=" + url.QueryEscape(published[3]), nil, func() string { return published[3] }, 3},
				{"header wins over query", q + "&lastEventID=" + url.QueryEscape(published[3]), func() http.Header { return http.Header{"Last-Event-ID": {published[0]}} }, func() string { return published[0] }, 0},
				{"publisher-chosen id", q, func() http.Header { return http.Header{"Last-Event-ID": {chosen}} }, func() string { return chosen }, 5},
				{"newest", q, func() http.Header { return http.Header{"Last-Event-ID": {published[len(published)-1]}} }, func() string { return published[len(published)-1] }, -2},
				{"earliest", q, func() http.Header { return http.Header{"Last-Event-ID": {herald.EarliestID}} }, func() string { return herald.EarliestID }, -1},
				{"earliest in the query", q + "&lastEventID=earliest", nil, func() string { return herald.EarliestID }, -1},
				{"unknown id", q, func() http.Header { return http.Header{"Last-Event-ID": {"never-published"}} }, func() string { return herald.EarliestID }, -2},
				{"another store's id", q, func() http.Header { return http.Header{"Last-Event-ID": {herald.FormatID("elsewhere", 2)}} }, func() string { return herald.EarliestID }, -2},
			} {
				var hdr http.Header
				if tc.hdr != nil {
					hdr = tc.hdr()
				}
				var want []string
				switch tc.after {
				case -1: // everything
					want = slices.Clone(published)
				case -2: // nothing
				default:
					want = slices.Clone(published[tc.after+1:])
				}
				wantHeader := tc.wantHeader()
				s := e.Subscribe(t, tc.query, hdr)
				if got := s.Response.Header.Get("Last-Event-ID"); got != wantHeader {
					t.Errorf("%s: response Last-Event-ID %q, want %q", tc.name, got, wantHeader)
				}
				live := e.PublishData(t, "live "+tc.name, "t")
				published = append(published, live)
				want = append(want, live)
				if got := hubtest.IDs(s.Until(t, live)); !slices.Equal(got, want) {
					t.Errorf("%s: received %q, want %q", tc.name, got, want)
				}
				s.Close()
			}
		})
	}
}

// TestResumeFiltersPrivate: replayed history holds only what the subscriber
// may see: its topics, and private updates only if its token allows them.
func TestResumeFiltersPrivate(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	const book1, book2, author = "https://example.com/books/1", "https://example.com/books/2", "https://example.com/authors/1"
	watcher := e.Subscribe(t, hubtest.Topics("*"), hubtest.Bearer(hubtest.SubscriberToken(t, "*")))
	var all []struct{ data, id string }
	add := func(data string, private bool, topics ...string) {
		f := url.Values{"topic": topics, "data": {data}}
		if private {
			f.Set("private", "on")
		}
		all = append(all, struct{ data, id string }{data, e.Publish(t, f)})
	}
	add("public book1", false, book1)
	add("private book1", true, book1)
	add("private book2", true, book2)
	add("public author", false, author)
	add("private author", true, author)
	add("private alternate book1", true, author, book1)
	// Let the live tail catch up with history (hub: TestResumeWithLaggingWatch).
	watcher.Until(t, all[len(all)-1].id)

	for _, tc := range []struct {
		name string
		hdr  http.Header
		want []string
	}{
		{"anonymous", http.Header{}, []string{"public book1", "public author"}},
		{"book1", hubtest.Bearer(hubtest.SubscriberToken(t, book1)), []string{"public book1", "private book1", "public author", "private alternate book1"}},
		{"books", hubtest.Bearer(hubtest.SubscriberToken(t, "https://example.com/books/{id}")), []string{"public book1", "private book1", "private book2", "public author", "private alternate book1"}},
	} {
		tc.hdr.Set("Last-Event-ID", herald.EarliestID)
		s := e.Subscribe(t, hubtest.Topics("https://example.com/books/{id}", author, hubtest.Sentinel), tc.hdr)
		if got := withoutSentinels(e.Flush(t, s)[0]); !slices.Equal(got, tc.want) {
			t.Errorf("%s replayed %q, want %q", tc.name, got, tc.want)
		}
	}
	// The same with a selector narrower than the token.
	hdr := hubtest.Bearer(hubtest.SubscriberToken(t, "*"))
	hdr.Set("Last-Event-ID", all[0].id)
	s := e.Subscribe(t, hubtest.Topics(book1, hubtest.Sentinel), hdr)
	if got, want := withoutSentinels(e.Flush(t, s)[0]), []string{"private book1", "private alternate book1"}; !slices.Equal(got, want) {
		t.Errorf("selector %q replayed %q, want %q", book1, got, want)
	}
}

// withoutSentinels returns the data of evs, earlier sentinels (replayed
// from history) left out.
func withoutSentinels(evs []sse.Event) []string {
	var out []string
	for _, d := range hubtest.Datas(evs) {
		if d != "sentinel" {
			out = append(out, d)
		}
	}
	return out
}

// gapData is the data of a hub.GapEventType event.
type gapData struct {
	LastEventID string `json:"lastEventID"`
}

// TestGapEvent: with gapEvent=1, a subscriber resuming from an id history
// does not hold first gets a hub.GapEventType event naming that id (a
// browser cannot read the Last-Event-ID response header); it does not when
// history holds the id, or when it did not ask.
func TestGapEvent(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			// History keeps only the last few updates.
			e := hubtest.New(t, hubtest.Config{Mode: m, Store: memory.New(memory.Options{Retention: herald.Retention{MaxCount: 3}})})
			watcher := e.Subscribe(t, hubtest.Topics("*"), nil)
			var published []string
			for i := range 10 {
				published = append(published, e.PublishData(t, fmt.Sprint(i), "t"))
			}
			watcher.Until(t, published[len(published)-1]) // the live tail has caught up with history
			trimmed := published[0]
			foreign := herald.FormatID("another-instance", 9)
			const held = "held" // the last but one id published
			for _, tc := range []struct {
				name, query, last string
				wantGap           bool
			}{
				{"trimmed id", "gapEvent=1", trimmed, true},
				{"another store's id", "gapEvent=1", foreign, true},
				{"unknown id, gapEvent=true", "gapEvent=true", "never-published", true},
				{"held id", "gapEvent=1", held, false},
				{"earliest", "gapEvent=1", herald.EarliestID, false}, // replays what is held: checked below
				{"trimmed id, not asked", "", trimmed, false},
				{"trimmed id, gapEvent=0", "gapEvent=0", trimmed, false},
			} {
				var wantReplay []string
				if tc.last == held {
					tc.last = published[len(published)-2]
					wantReplay = published[len(published)-1:]
				}
				hdr := http.Header{"Last-Event-ID": {tc.last}}
				q := hubtest.Topics("t")
				if tc.query != "" {
					q += "&" + tc.query
				}
				s := e.Subscribe(t, q, hdr)
				live := e.PublishData(t, "live "+tc.name, "t")
				published = append(published, live)
				evs := s.Until(t, live)
				if tc.wantGap {
					if s.Response.Header.Get("Last-Event-ID") != herald.EarliestID {
						t.Errorf("%s: response Last-Event-ID %q, want earliest", tc.name, s.Response.Header.Get("Last-Event-ID"))
					}
					if evs[0].Type != hub.GapEventType {
						t.Errorf("%s: first event %+v, want a %q event", tc.name, evs[0], hub.GapEventType)
						continue
					}
					var d gapData
					if err := json.Unmarshal([]byte(evs[0].Data), &d); err != nil || d.LastEventID != tc.last {
						t.Errorf("%s: gap event data %q (%v), want {\"lastEventID\": %q}", tc.name, evs[0].Data, err, tc.last)
					}
					evs = evs[1:]
				}
				for _, ev := range evs {
					if ev.Type == hub.GapEventType {
						t.Errorf("%s: unexpected gap event %+v", tc.name, ev)
					}
				}
				if tc.last == herald.EarliestID {
					if len(evs) < 2 || evs[len(evs)-1].ID != live {
						t.Errorf("%s: received %q", tc.name, hubtest.IDs(evs))
					}
					s.Close()
					continue
				}
				want := append(slices.Clone(wantReplay), live)
				if got := hubtest.IDs(evs); !slices.Equal(got, want) {
					t.Errorf("%s: received %q, want %q", tc.name, got, want)
				}
				s.Close()
			}
		})
	}
}

// liveData is the data of a hub.LiveEventType event.
type liveData struct {
	Replayed int `json:"replayed"`
}

// TestLiveEvent: with liveEvent=1, a stream says with a hub.LiveEventType
// event, which has no id (the client's last event id stays that of the last
// update), when the history it asked for has been sent: at once for a fresh
// stream, after the replay (and after a gap event) for a resumed one. Without
// it, no such event is sent.
func TestLiveEvent(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m})
			watcher := e.Subscribe(t, hubtest.Topics("*"), nil)
			var published []string
			for i := range 4 {
				published = append(published, e.PublishData(t, fmt.Sprint(i), "t"))
			}
			watcher.Until(t, published[len(published)-1])
			for _, tc := range []struct {
				name, query string
				last        string
				wantReplay  []string
				wantLive    bool
				wantGap     bool
			}{
				{"fresh", "liveEvent=1", "", nil, true, false},
				{"resumed", "liveEvent=1", published[0], published[1:], true, false},
				{"resumed, nothing to replay", "liveEvent=true", published[3], nil, true, false},
				{"earliest", "liveEvent=1", herald.EarliestID, published, true, false},
				{"gap", "liveEvent=1&gapEvent=1", "never-published", nil, true, true},
				{"not asked", "", published[0], published[1:], false, false},
				{"liveEvent=0", "liveEvent=0", "", nil, false, false},
			} {
				var hdr http.Header
				if tc.last != "" {
					hdr = http.Header{"Last-Event-ID": {tc.last}}
				}
				// Live events go to a topic of the case's own, so that no
				// case replays another's.
				q := hubtest.Topics("t", "live/"+tc.name)
				if tc.query != "" {
					q += "&" + tc.query
				}
				s := e.Subscribe(t, q, hdr)
				live := e.PublishData(t, "live "+tc.name, "live/"+tc.name)
				evs := s.Until(t, live)
				if tc.wantGap {
					if len(evs) == 0 || evs[0].Type != hub.GapEventType {
						t.Errorf("%s: no gap event first: %+v", tc.name, evs)
						continue
					}
					evs = evs[1:]
				}
				var got []string
				seen := false
				for i, ev := range evs {
					if ev.Type != hub.LiveEventType {
						if !seen {
							got = append(got, ev.ID)
						}
						continue
					}
					if !tc.wantLive || seen {
						t.Errorf("%s: unexpected %s event %+v", tc.name, hub.LiveEventType, ev)
						continue
					}
					seen = true
					wantID := "" // the reader starts with no last event id
					if i > 0 {
						wantID = evs[i-1].ID
					}
					if ev.ID != wantID {
						t.Errorf("%s: %s event changed the last event id to %q, want %q", tc.name, hub.LiveEventType, ev.ID, wantID)
					}
					var d liveData
					if err := json.Unmarshal([]byte(ev.Data), &d); err != nil || d.Replayed != len(tc.wantReplay) {
						t.Errorf("%s: %s data %q (%v), want replayed %d", tc.name, hub.LiveEventType, ev.Data, err, len(tc.wantReplay))
					}
				}
				if tc.wantLive && !seen {
					t.Errorf("%s: no %s event in %+v", tc.name, hub.LiveEventType, evs)
				}
				if !tc.wantLive {
					continue
				}
				if !slices.Equal(got, tc.wantReplay) {
					t.Errorf("%s: before the %s event: %q, want %q", tc.name, hub.LiveEventType, got, tc.wantReplay)
				}
				s.Close()
			}
		})
	}
}

// TestResumeQuerySpellings: the last event id is taken from the
// Last-Event-ID header, else from the query parameter lastEventID (the
// Mercure draft's spelling), Last-Event-ID, or lastEventId (the spelling of
// the event-source-polyfill and reconnecting-eventsource packages), so that
// their users lose nothing when they reconnect.
func TestResumeQuerySpellings(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	watcher := e.Subscribe(t, hubtest.Topics("*"), nil)
	var published []string
	for i := range 3 {
		published = append(published, e.PublishData(t, fmt.Sprint(i), "t"))
	}
	watcher.Until(t, published[2])
	for _, param := range []string{"lastEventID", "Last-Event-ID", "lastEventId"} {
		s := e.Subscribe(t, hubtest.Topics("t")+"&"+param+"="+url.QueryEscape(published[0]), nil)
		if got := s.Response.Header.Get("Last-Event-ID"); got != published[0] {
			t.Errorf("%s: response Last-Event-ID %q, want %q", param, got, published[0])
		}
		if got := hubtest.IDs(s.Until(t, published[2])); !slices.Equal(got, published[1:]) {
			t.Errorf("%s: replayed %q, want %q", param, got, published[1:])
		}
		s.Close()
	}
}

// TestPrivateIDsNotRevealed: the id of a private update reaches only those
// allowed to receive it. A new stream's Last-Event-ID response header (its
// starting point) is a position, never the id of the newest update; a resume
// from the id of a private update the subscriber may not receive is answered
// exactly as one from an id that does not exist, so guessing reveals nothing;
// one allowed to receive it resumes from it.
func TestPrivateIDsNotRevealed(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	watcher := e.Subscribe(t, hubtest.Topics("*"), hubtest.Bearer(hubtest.SubscriberToken(t, "*")))
	secret := e.Publish(t, url.Values{"topic": {"/users/7"}, "data": {"reset link"}, "private": {"on"}, "id": {"user-7-password-reset"}})
	watcher.Until(t, secret)

	s := e.Subscribe(t, hubtest.Topics("/news"), nil)
	start := s.Response.Header.Get("Last-Event-ID")
	if start == secret {
		t.Fatalf("a new anonymous stream on /news was told the private id %q", start)
	}
	if _, _, ok := herald.ParseID(start); !ok {
		t.Errorf("a new stream's Last-Event-ID %q is not a position", start)
	}
	// The position resumes where the stream started.
	next := e.PublishData(t, "news", "/news")
	again := e.Subscribe(t, hubtest.Topics("/news"), http.Header{"Last-Event-ID": {start}})
	if got := hubtest.IDs(again.Until(t, next)); !slices.Equal(got, []string{next}) {
		t.Errorf("resumed from the position %q: %q, want %q", start, got, []string{next})
	}

	// Guessing: the private id and an id that does not exist get the same
	// answer.
	answer := func(hdr http.Header, id string) (string, []string) {
		hdr.Set("Last-Event-ID", id)
		st := e.Subscribe(t, hubtest.Topics("/users/7", "/news")+"&gapEvent=1", hdr)
		live := e.PublishData(t, "after "+id, "/news")
		var types []string
		for _, ev := range st.Until(t, live) {
			// The gap event names the id asked for: leave it out.
			types = append(types, ev.Type+" "+strings.ReplaceAll(ev.Data, id, "<id>"))
		}
		st.Close()
		return st.Response.Header.Get("Last-Event-ID"), types
	}
	gotHdr, gotEvents := answer(http.Header{}, secret)
	wantHdr, wantEvents := answer(http.Header{}, "user-8-password-reset")
	gotEvents[len(gotEvents)-1], wantEvents[len(wantEvents)-1] = "", ""
	if gotHdr != wantHdr || !slices.Equal(gotEvents, wantEvents) {
		t.Errorf("resume from a private id: header %q, events %q; from an unknown id: header %q, events %q; want the same",
			gotHdr, gotEvents, wantHdr, wantEvents)
	}
	// A token allowed to receive it resumes from it.
	hdr, events := answer(hubtest.Bearer(hubtest.SubscriberToken(t, "/users/{id}")), secret)
	if hdr != secret || len(events) < 2 || !strings.Contains(events[0], "news") {
		t.Errorf("resume from the private id with a token allowed to receive it: header %q, events %q", hdr, events)
	}
}
