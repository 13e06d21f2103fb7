package mercure_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// subscriptionsTemplate selects every subscription event, as the protocol
// draft suggests subscribing to them.
const subscriptionsTemplate = "/.well-known/mercure/subscriptions{/topic}{/subscriber}"

// subscription is the JSON-LD of one subscription (draft-dunglas-mercure,
// "Active Subscriptions").
type subscription struct {
	Context     string          `json:"@context"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Topic       string          `json:"topic"`
	Subscriber  string          `json:"subscriber"`
	Active      bool            `json:"active"`
	Payload     json.RawMessage `json:"payload"`
	LastEventID string          `json:"lastEventID"`
}

type subscriptionCollection struct {
	Context       string         `json:"@context"`
	ID            string         `json:"id"`
	Type          string         `json:"type"`
	LastEventID   string         `json:"lastEventID"`
	Subscriptions []subscription `json:"subscriptions"`
	Next          string         `json:"next"`
}

// subscriptionEvents parses the subscription events among evs, sentinels
// left out.
func subscriptionEvents(t *testing.T, evs []sse.Event) []subscription {
	t.Helper()
	var out []subscription
	for _, ev := range evs {
		if ev.Data == "sentinel" {
			continue
		}
		var s subscription
		if err := json.Unmarshal([]byte(ev.Data), &s); err != nil {
			t.Fatalf("subscription event %q: %v", ev.Data, err)
		}
		out = append(out, s)
	}
	return out
}

// TestSubscriptionEvents: with Config.Subscriptions, each subscriber's
// connection and disconnection are published as private updates on
// /.well-known/mercure/subscriptions/{topic}/{subscriber}, which a
// subscriber to the URI template the protocol draft documents receives, and
// the subscriptions API lists the active ones at those ids.
func TestSubscriptionEvents(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{Subscriptions: true}})
	observerToken := hubtest.SubscriberToken(t, subscriptionsTemplate)
	observer := e.Subscribe(t, hubtest.Topics(subscriptionsTemplate, hubtest.Sentinel), hubtest.Bearer(observerToken))
	anonymous := e.Subscribe(t, hubtest.Topics(subscriptionsTemplate, hubtest.Sentinel), nil)
	e.Flush(t, observer, anonymous) // the subscription events of these two

	const selector, other = "https://example.com/books/{id}", "urn:isbn:0451450523"
	ctx, cancel := context.WithCancel(context.Background())
	resp := e.Get(t, ctx, "?"+hubtest.Topics(selector, other), hubtest.Bearer(hubtest.Sign(t, hubtest.SubKey, auth.Grant{Subscribe: []string{"x"}, Payload: map[string]any{"user": "alice"}})))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %s", resp.Status)
	}
	subscriber := hubtest.StartStream(t, resp, cancel)

	got := e.Flush(t, observer, anonymous)
	if len(got[1]) != 0 {
		t.Errorf("an anonymous subscriber received the private subscription events %q", hubtest.Datas(got[1]))
	}
	opened := map[string]subscription{} // by topic
	subscriberID := ""
	for _, s := range subscriptionEvents(t, got[0]) {
		opened[s.Topic] = s
		if s.Topic == selector {
			subscriberID = s.Subscriber
		}
	}
	if !strings.HasPrefix(subscriberID, "urn:uuid:") {
		t.Fatalf("subscriber id %q, want a urn:uuid (events %q)", subscriberID, hubtest.Datas(got[0]))
	}
	for _, sel := range []string{selector, other} {
		s, ok := opened[sel]
		if !ok {
			t.Errorf("no subscription event for selector %q (received %q)", sel, hubtest.Datas(got[0]))
			continue
		}
		if !strings.HasPrefix(s.ID, mercure.Path+"/subscriptions/") || !strings.HasSuffix(s.ID, "/"+url.QueryEscape(subscriberID)) ||
			s.Type != "Subscription" || s.Subscriber != subscriberID || !s.Active || s.Context == "" {
			t.Errorf("subscription event %+v, want id .../subscriptions/{topic}/{subscriber}, type Subscription, active, an @context", s)
		}
		if string(s.Payload) != `{"user":"alice"}` {
			t.Errorf("subscription event payload %s, want the token's mercure.payload", s.Payload)
		}
	}

	// The API.
	api := func(path string, hdr http.Header) (*http.Response, string) {
		return e.GetText(t, "/subscriptions"+path, hdr)
	}
	resp, body := api("", hubtest.Bearer(observerToken))
	if resp.StatusCode != http.StatusOK || hubtest.MediaType(resp) != "application/ld+json" {
		t.Fatalf("GET subscriptions: %s %s %q", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var all subscriptionCollection
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		t.Fatalf("GET subscriptions: %v in %q", err, body)
	}
	if all.Type != "Subscriptions" || all.ID != mercure.Path+"/subscriptions" || all.LastEventID == "" || all.Context == "" {
		t.Errorf("collection %+v", all)
	}
	var listed []string
	for _, s := range all.Subscriptions {
		if s.Subscriber == subscriberID {
			listed = append(listed, s.Topic)
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, []string{selector, other}) {
		t.Errorf("collection lists %q for the subscriber, want both its selectors", listed)
	}
	for _, sel := range []string{selector, other} {
		s, ok := opened[sel]
		if !ok {
			continue
		}
		// Each subscription's id is where the API serves it.
		resp, body := e.GetText(t, strings.TrimPrefix(s.ID, mercure.Path), hubtest.Bearer(observerToken))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s %q, want the subscription to %q", s.ID, resp.Status, body, sel)
			continue
		}
		var one subscription
		if err := json.Unmarshal([]byte(body), &one); err != nil || one.ID != s.ID || one.Topic != sel || !one.Active || one.Subscriber != subscriberID || one.LastEventID == "" {
			t.Errorf("GET %s: %q (%v)", s.ID, body, err)
		}
	}
	resp, body = api("/"+url.QueryEscape(selector), hubtest.Bearer(observerToken))
	var byTopic subscriptionCollection
	if err := json.Unmarshal([]byte(body), &byTopic); resp.StatusCode != http.StatusOK || err != nil ||
		len(byTopic.Subscriptions) != 1 || byTopic.Subscriptions[0].Topic != selector {
		t.Errorf("GET subscriptions/{topic}: %s %q (%v)", resp.Status, body, err)
	}
	for _, path := range []string{
		"/" + url.QueryEscape(selector) + "/" + url.QueryEscape("urn:uuid:00000000-0000-4000-8000-000000000000"),
		"/unknown/" + url.QueryEscape(subscriberID),
	} {
		if resp, body := api(path, hubtest.Bearer(observerToken)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET subscriptions%s: %s %q, want 404", path, resp.Status, body)
		}
	}
	if resp, body := api("", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET subscriptions without a token: %s %q, want 401", resp.Status, body)
	}
	if resp, body := api("", hubtest.Bearer(hubtest.PublisherToken(t))); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET subscriptions with a publisher token: %s %q, want 401", resp.Status, body)
	}
	// A token that selects no subscription sees none.
	resp, body = api("", hubtest.Bearer(hubtest.SubscriberToken(t, "https://example.com/other")))
	var none subscriptionCollection
	if err := json.Unmarshal([]byte(body), &none); resp.StatusCode != http.StatusOK || err != nil || len(none.Subscriptions) != 0 {
		t.Errorf("GET subscriptions with a token selecting none of them: %s %q", resp.Status, body)
	}

	// Disconnecting is announced too, and ends the listing.
	subscriber.Close()
	closed := map[string]bool{}
	for len(closed) < len(opened) {
		ev := observer.Next(t)
		for _, s := range subscriptionEvents(t, []sse.Event{ev}) {
			if s.Subscriber != subscriberID || s.Active {
				t.Errorf("after disconnection: subscription event %+v, want active false for %s", s, subscriberID)
			}
			closed[s.Topic] = true
		}
	}
	resp, body = api("", hubtest.Bearer(observerToken))
	if resp.StatusCode != http.StatusOK || strings.Contains(body, url.QueryEscape(subscriberID)) {
		t.Errorf("GET subscriptions after disconnection still lists the subscriber: %q", body)
	}
}

// TestSubscriptionIDsEscapeSpaces: a selector may hold a space (topics
// may); the id of its subscription must still be one that a subscriber to
// the documented URI template receives, and one that the API serves.
//
// The subscription id is built with url.QueryEscape, which writes a space as
// "+": a {/topic} template expansion never produces "+" (it writes %20), and
// the API decodes path segments with url.PathUnescape, which leaves "+" as
// is, so the subscription is neither announced to the template's
// subscribers nor found at its own id.
func TestSubscriptionIDsEscapeSpaces(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{Subscriptions: true}})
	observerToken := hubtest.SubscriberToken(t, subscriptionsTemplate)
	observer := e.Subscribe(t, hubtest.Topics(subscriptionsTemplate, hubtest.Sentinel), hubtest.Bearer(observerToken))
	e.Flush(t, observer)

	const spaced = "a b"
	s := e.Subscribe(t, hubtest.Topics(spaced), nil)
	var seen []string
	for _, sub := range subscriptionEvents(t, e.Flush(t, observer)[0]) {
		seen = append(seen, sub.Topic)
	}
	if !slices.Contains(seen, spaced) {
		t.Errorf("a subscriber to %q did not receive the subscription event of selector %q (received %q)", subscriptionsTemplate, spaced, seen)
	}

	everyToken := hubtest.SubscriberToken(t, "*")
	_, body := e.GetText(t, "/subscriptions", hubtest.Bearer(everyToken))
	var every subscriptionCollection
	if err := json.Unmarshal([]byte(body), &every); err != nil {
		t.Fatalf("GET subscriptions: %v in %q", err, body)
	}
	found := false
	for _, sub := range every.Subscriptions {
		if sub.Topic != spaced {
			continue
		}
		found = true
		resp, body := e.GetText(t, strings.TrimPrefix(sub.ID, mercure.Path), hubtest.Bearer(everyToken))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s (listed by the API): %s %q, want the subscription to %q", sub.ID, resp.Status, body, spaced)
		}
	}
	if !found {
		t.Errorf("the API does not list the subscription to %q: %q", spaced, body)
	}
	s.Close()
}

// TestSubscriptionsOff: without Config.Subscriptions there is no API and no
// subscription event.
func TestSubscriptionsOff(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	s := e.Subscribe(t, hubtest.Topics("*"), hubtest.Bearer(hubtest.SubscriberToken(t, "*")))
	if resp, body := e.GetText(t, "/subscriptions", hubtest.Bearer(hubtest.SubscriberToken(t, "*"))); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET subscriptions: %s %q, want 404", resp.Status, body)
	}
	if got := e.Flush(t, s)[0]; len(got) != 0 {
		t.Errorf("received %q, want no subscription event", hubtest.Datas(got))
	}
}

// TestSubscriptionEventsKeepHistory: subscription events are delivered to
// the live subscribers that select them, but never stored: however many
// anonymous clients come and go, an application's update stays in a small
// history, and a subscription event (which has no id) changes nobody's last
// event id.
func TestSubscriptionEventsKeepHistory(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{Retention: herald.Retention{MaxCount: 5}})
	e := hubtest.New(t, hubtest.Config{Store: st, Mercure: mercure.Config{Subscriptions: true}})
	observer := e.Subscribe(t, hubtest.Topics(subscriptionsTemplate, hubtest.Sentinel), hubtest.Bearer(hubtest.SubscriberToken(t, subscriptionsTemplate)))
	app := e.PublishData(t, "the application's update", "/app")
	e.Flush(t, observer)
	// The sentinel's generated id is the newest position.
	lastID, before, _ := st.Last(context.Background())

	var topics []string
	for i := range 64 {
		topics = append(topics, fmt.Sprintf("/noise/%d", i))
	}
	for range 10 {
		s := e.Subscribe(t, hubtest.Topics(topics...), nil)
		s.Close()
	}
	got := e.Flush(t, observer)[0]
	events := subscriptionEvents(t, got)
	if len(events) < 64 {
		t.Fatalf("the observer received %d subscription events, want at least 64", len(events))
	}
	for _, ev := range got {
		if ev.Data != "sentinel" && ev.ID != lastID {
			t.Errorf("a subscription event set the last event id to %q (want it unchanged, %q)", ev.ID, lastID)
			break
		}
	}
	// Only the second sentinel was stored.
	if _, after, _ := st.Last(context.Background()); after != before+1 {
		t.Errorf("subscription events were stored: the newest update went from %d to %d", before, after)
	}
	s := e.Subscribe(t, hubtest.Topics("/app"), http.Header{"Last-Event-ID": {herald.EarliestID}})
	if got := hubtest.IDs(s.Until(t, app)); len(got) != 1 {
		t.Errorf("the application's update is no longer in history: replayed %q", got)
	}
}

// TestAnonymousSubscriptionEventsLimited: anonymous subscribers can make the
// hub announce at most Config.AnonymousSubscriptionEvents subscription
// events per second (with a burst of as many); past that they are dropped,
// while those of subscribers with a token are not.
func TestAnonymousSubscriptionEventsLimited(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{Subscriptions: true, AnonymousSubscriptionEvents: 10}})
	observer := e.Subscribe(t, hubtest.Topics(subscriptionsTemplate, hubtest.Sentinel), hubtest.Bearer(hubtest.SubscriberToken(t, subscriptionsTemplate)))
	e.Flush(t, observer)
	var topics []string
	for i := range 30 {
		topics = append(topics, fmt.Sprintf("/noise/%d", i))
	}
	e.Subscribe(t, hubtest.Topics(topics...), nil)
	e.Subscribe(t, hubtest.Topics("/signed/1", "/signed/2"), hubtest.Bearer(hubtest.SubscriberToken(t, "x")))
	anonymous, signed := 0, 0
	for _, s := range subscriptionEvents(t, e.Flush(t, observer)[0]) {
		if strings.HasPrefix(s.Topic, "/noise/") {
			anonymous++
		} else {
			signed++
		}
	}
	if anonymous > 10 || anonymous == 0 {
		t.Errorf("an anonymous subscription to 30 topics was announced %d times, want at most the burst of 10", anonymous)
	}
	if signed != 2 {
		t.Errorf("a subscription with a token to 2 topics was announced %d times, want 2", signed)
	}
}

// TestSubscriptionsAPIPaginated: the subscriptions API answers in pages of at
// most ?limit= subscriptions (Config.SubscriptionsPageSize by default and at
// most), in the order of their ids, each page naming the next one (in its
// "next" field and a Link header) until the last: together they hold every
// subscription once. A bad limit or cursor is a 400.
func TestSubscriptionsAPIPaginated(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{Subscriptions: true, SubscriptionsPageSize: 30}})
	for i := range 25 {
		e.Subscribe(t, hubtest.Topics(fmt.Sprintf("/a/%d", i), fmt.Sprintf("/b/%d", i)), nil)
	}
	tok := hubtest.Bearer(hubtest.SubscriberToken(t, subscriptionsTemplate))
	var all []string
	pages := 0
	next := "/subscriptions?limit=20"
	for next != "" {
		resp, body := e.GetText(t, strings.TrimPrefix(next, mercure.Path), tok)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %q", next, resp.Status, body)
		}
		var page subscriptionCollection
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("GET %s: %v", next, err)
		}
		if len(page.Subscriptions) > 20 {
			t.Errorf("GET %s: %d subscriptions, want at most 20", next, len(page.Subscriptions))
		}
		for _, s := range page.Subscriptions {
			all = append(all, s.ID)
		}
		if link := resp.Header.Get("Link"); (page.Next == "") != (link == "") || (link != "" && !strings.Contains(link, `rel="next"`)) {
			t.Errorf("GET %s: next %q, Link %q", next, page.Next, link)
		}
		next = page.Next
		if pages++; pages > 5 {
			t.Fatal("more than 5 pages")
		}
	}
	if pages != 3 || len(all) != 50 || !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != 50 {
		t.Errorf("%d pages with %d subscriptions (sorted %v), want 3 pages with all 50 once, in order", pages, len(all), slices.IsSorted(all))
	}
	// Without a limit, pages hold Config.SubscriptionsPageSize; a larger
	// limit is capped to it.
	for _, q := range []string{"", "?limit=1000"} {
		resp, body := e.GetText(t, "/subscriptions"+q, tok)
		var page subscriptionCollection
		if err := json.Unmarshal([]byte(body), &page); resp.StatusCode != http.StatusOK || err != nil || len(page.Subscriptions) != 30 || page.Next == "" {
			t.Errorf("GET subscriptions%s: %s, %d subscriptions, next %q; want 30 and a next page", q, resp.Status, len(page.Subscriptions), page.Next)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=x", "?after=%zz"} {
		if resp, body := e.GetText(t, "/subscriptions"+q, tok); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET subscriptions%s: %s %q, want 400", q, resp.Status, body)
		}
	}
}
