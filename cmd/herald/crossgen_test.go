package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
)

// TestCrossGenerationLoad: under a bounded load, draft-07 and draft-08
// publishers publish to one topic concurrently, and draft-07 subscribers
// (exact topic, URI template) and draft-08 subscribers (exact matcher, URL
// pattern) of that topic each receive every update exactly once, in the one
// order of the history, with the same ids; some subscribers drop midway
// and resume in the other generation from the last id they received,
// losing nothing. It logs the figures:
//
//	go test -run TestCrossGenerationLoad -v ./cmd/herald/
func TestCrossGenerationLoad(t *testing.T) {
	const (
		topicT      = "https://example.com/load/1"
		perGen      = 40  // subscribers of each generation
		publishers  = 4   // half of each generation
		perPub      = 500 // updates per publisher
		total       = publishers * perPub
		switchAfter = total / 3 // when the switching subscribers drop
	)
	h := serve08(t, "--heartbeat=0")
	queries := map[string][]string{
		"07": {"topic=" + url.QueryEscape(topicT), "topic=" + url.QueryEscape("https://example.com/load/{n}")},
		"08": {"match=" + url.QueryEscape(topicT), "match_urlpattern=" + url.QueryEscape("https://example.com/load/:n")},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * perGen}}
	defer client.CloseIdleConnections() // before the hub stops: it waits for them

	// open subscribes in generation gen (query variant v), resuming after
	// last when not empty, and returns the stream once the hub answered.
	open := func(gen string, v int, last string) (*http.Response, error) {
		q := queries[gen][v]
		switch {
		case last != "" && gen == "07":
			q += "&lastEventID=" + url.QueryEscape(last)
		case last != "":
			q += "&last_event_id=" + url.QueryEscape(last)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+mercure.Path+"?"+q, nil)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return nil, fmt.Errorf("%s: %s %s", q, resp.Status, b)
		}
		return resp, nil
	}
	type result struct {
		name string
		ids  []string
		err  error
	}
	results := make(chan result, 2*perGen)
	var ready sync.WaitGroup
	for i := range 2 * perGen {
		gen, other := "07", "08"
		if i%2 == 1 {
			gen, other = "08", "07"
		}
		v := (i / 2) % 2
		switches := i%10 < 2 // a fifth of them switch generation midway
		name := fmt.Sprintf("%s/%s/%d", gen, strings.SplitN(queries[gen][v], "=", 2)[0], i)
		if switches {
			name += " then " + other
		}
		resp, err := open(gen, v, "")
		if err != nil {
			t.Fatal(err)
		}
		ready.Add(1)
		go func() {
			r := result{name: name}
			defer func() { results <- r }()
			dec := sse.NewDecoder(resp.Body)
			ready.Done()
			for len(r.ids) < total {
				if switches && len(r.ids) == switchAfter {
					resp.Body.Close()
					if resp, r.err = open(other, v, r.ids[len(r.ids)-1]); r.err != nil {
						return
					}
					dec = sse.NewDecoder(resp.Body)
					switches = false
				}
				ev, err := dec.Decode()
				if err != nil {
					r.err = fmt.Errorf("after %d events: %w", len(r.ids), err)
					return
				}
				r.ids = append(r.ids, ev.ID)
			}
			resp.Body.Close()
		}()
	}
	ready.Wait()

	start := time.Now()
	pub07 := serveToken(t, serveTestKey, auth.Grant{Publish: []string{topicT}, TTL: time.Hour})
	pub08 := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08(topicT)))
	acked := make([][]string, publishers)
	var pubs sync.WaitGroup
	for p := range publishers {
		tok := pub07
		if p%2 == 1 {
			tok = pub08
		}
		pubs.Go(func() {
			for n := range perPub {
				form := url.Values{"topic": {topicT}, "data": {fmt.Sprintf("publisher %d, update %d", p, n)}}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.base+mercure.Path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				id, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("publisher %d: %s %s", p, resp.Status, id)
					return
				}
				acked[p] = append(acked[p], string(id))
			}
		})
	}
	pubs.Wait()
	published := time.Since(start)

	var order []string // the order of the first subscriber, which all must share
	for range 2 * perGen {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
			continue
		}
		if order == nil {
			order = r.ids
		}
		if !slices.Equal(r.ids, order) {
			t.Errorf("%s received %d ids in another order (or with another id) than the first subscriber", r.name, len(r.ids))
		}
	}
	elapsed := time.Since(start)
	var all []string
	for p, ids := range acked {
		if len(ids) != perPub {
			t.Errorf("publisher %d: %d of %d acknowledged", p, len(ids), perPub)
		}
		// Each publisher's updates are in its own order in the history.
		pos := -1
		for _, id := range ids {
			i := slices.Index(order, id)
			if i <= pos {
				t.Fatalf("publisher %d's %q is out of its order in what subscribers received", p, id)
			}
			pos = i
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	got := slices.Clone(order)
	slices.Sort(got)
	if !slices.Equal(got, all) {
		t.Errorf("subscribers received %d ids, the publishers were acknowledged %d; the sets differ", len(got), len(all))
	}
	t.Logf("%d updates from %d publishers (draft 07 and 08) in %v (%.0f publishes/s); %d subscribers (%d of each generation, %d switching generation midway) received all %d deliveries in %v (%.0f deliveries/s), none lost, none duplicated, one order",
		total, publishers, published.Round(time.Millisecond), float64(total)/published.Seconds(), 2*perGen, perGen, 2*perGen/5,
		2*perGen*total, elapsed.Round(time.Millisecond), float64(2*perGen*total)/elapsed.Seconds())
}
