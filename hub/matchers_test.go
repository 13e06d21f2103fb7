package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/topic"
)

// TestServeStreamMatchers: a draft-08 subscription (matchers as selectors)
// receives what its matchers select, URL patterns matching the canonical
// form of a topic; the response names where the stream starts in the header
// the subscription asks for (Mercure-Last-Event-ID for draft 08) and not in
// Last-Event-ID, fresh or resuming; SubscriberInfos reports each selector's
// matcher type and payload.
func TestServeStreamMatchers(t *testing.T) {
	t.Parallel()
	const base = "https://hub.example.com/.well-known/mercure"
	st := memory.New(memory.Options{})
	defer st.Close()
	h := hub.New(st, hub.Options{Logger: discard})
	defer h.Close(context.Background())
	compile := func(typ, value string) *topic.Selector {
		m, err := topic.CompileMatcher(typ, value, base)
		if err != nil {
			t.Fatal(err)
		}
		return m.Selector()
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last := r.Header.Get("Last-Event-ID")
		h.ServeStream(w, r, hub.Subscription{
			ID: "sub-8",
			Selectors: []*topic.Selector{
				compile(topic.MatchURLPattern, "https://example.com/books/:id"),
				compile(topic.MatchExact, "/authors/{id}"),
			},
			Payloads:          []json.RawMessage{json.RawMessage(`{"p":1}`), nil},
			LastEventIDHeader: "Mercure-Last-Event-ID",
			Resume:            last != "",
			LastEventID:       last,
		})
	}))
	defer ts.Close()

	open := func(ctx context.Context, last string) (*http.Response, *sse.Decoder) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := ts.Client().Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %v %v", resp, err)
		}
		return resp, sse.NewDecoder(resp.Body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	resp, dec := open(ctx, "")
	if got := resp.Header.Get("Mercure-Last-Event-ID"); got != herald.EarliestID {
		t.Errorf("Mercure-Last-Event-ID = %q, want %q", got, herald.EarliestID)
	}
	if _, ok := resp.Header["Last-Event-Id"]; ok {
		t.Errorf("a draft-08 stream has a Last-Event-ID header: %q", resp.Header.Get("Last-Event-ID"))
	}
	infos := h.SubscriberInfos()
	if len(infos) != 1 || !slices.Equal(infos[0].Selectors, []string{"https://example.com/books/:id", "/authors/{id}"}) ||
		!slices.Equal(infos[0].MatchTypes, []string{topic.MatchURLPattern, topic.MatchExact}) ||
		len(infos[0].Payloads) != 2 || string(infos[0].Payloads[0]) != `{"p":1}` || infos[0].Payloads[1] != nil {
		t.Errorf("SubscriberInfos = %+v", infos)
	}

	var ids []string
	for _, u := range []herald.Update{
		{Topics: []string{"https://EXAMPLE.com:443/books/../books/1"}, Data: "canonical"},
		{Topics: []string{"https://example.com/books/1/reviews"}, Data: "no"},
		{Topics: []string{"/authors/7"}, Data: "no: exact is byte-exact"},
		{Topics: []string{"/authors/{id}"}, Data: "exact"},
		{Topics: []string{"https://example.com/books/2"}, Data: "last"},
	} {
		stored, err := h.Publish(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, stored.ID)
	}
	var got []string
	for len(got) == 0 || got[len(got)-1] != "last" {
		ev, err := dec.Decode()
		if err != nil {
			t.Fatalf("decode: %v (after %q)", err, got)
		}
		got = append(got, ev.Data)
	}
	if want := []string{"canonical", "exact", "last"}; !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
	cancel()
	resp.Body.Close()

	// Resume after the first: the header names the id asked for.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	resp, dec = open(ctx, ids[0])
	defer resp.Body.Close()
	if got := resp.Header.Get("Mercure-Last-Event-ID"); got != ids[0] {
		t.Errorf("resuming: Mercure-Last-Event-ID = %q, want %q", got, ids[0])
	}
	if _, ok := resp.Header["Last-Event-Id"]; ok {
		t.Error("resuming: a draft-08 stream has a Last-Event-ID header")
	}
	if ev, err := dec.Decode(); err != nil || ev.Data != "exact" {
		t.Errorf("resuming: first event %+v (%v), want the exact one", ev, err)
	}
}
