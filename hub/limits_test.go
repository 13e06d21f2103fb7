package hub_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/store/memory"
)

// refusal subscribes with query and headers hdr, expects to be refused with
// status at once, with a Retry-After and a message holding want, and returns
// how long it took.
func refusal(t *testing.T, e *hubtest.Env, query string, hdr http.Header, status int, want string) time.Duration {
	t.Helper()
	start := time.Now()
	resp, body := e.GetText(t, "?"+query, hdr)
	took := time.Since(start)
	if resp.StatusCode != status {
		t.Fatalf("subscribe ?%s: %s %q, want %d", query, resp.Status, body, status)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("subscribe ?%s: Retry-After %q, want a number of seconds", query, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, want) {
		t.Errorf("subscribe ?%s: message %q, want it to say %q", query, body, want)
	}
	if hubtest.MediaType(resp) != "text/plain" {
		t.Errorf("subscribe ?%s: Content-Type %q, want text/plain", query, resp.Header.Get("Content-Type"))
	}
	return took
}

// TestSubscriberLimit: past Options.MaxSubscribers a subscription is refused
// at once with a 503 and Retry-After, counted, and logged at warn level (once
// for a burst); once a subscriber leaves there is room again. Publishing goes
// on.
func TestSubscriberLimit(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			metrics := newCounters()
			var logs hubtest.SyncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			e := hubtest.New(t, hubtest.Config{Mode: m, Hub: hub.Options{MaxSubscribers: 3, Metrics: metrics, Logger: log}})
			var streams []*hubtest.Stream
			for range 3 {
				streams = append(streams, e.Subscribe(t, hubtest.Topics("t"), nil))
			}
			refusal(t, e, hubtest.Topics("t"), nil, http.StatusServiceUnavailable, "as many subscribers as it may (3)")
			refusal(t, e, hubtest.Topics("t"), nil, http.StatusServiceUnavailable, "as many subscribers as it may (3)")
			if n := strings.Count(logs.String(), `level=WARN msg="refusing subscriptions`); n != 1 {
				t.Errorf("%d warnings for two refusals in a row, want 1:\n%s", n, logs.String())
			}
			id := e.PublishData(t, "still published", "t")
			for _, s := range streams {
				s.Until(t, id)
			}
			if st := e.Hub.Stats(); st.Subscribers != 3 || st.MaxSubscribers != 3 {
				t.Errorf("Stats: %+v, want 3 subscribers of 3", st)
			}
			streams[0].Close()
			waitFor(t, "the subscriber that left to be gone", func() bool { return e.Hub.Subscribers() == 2 })
			e.Subscribe(t, hubtest.Topics("t"), nil)
			metrics.mu.Lock()
			defer metrics.mu.Unlock()
			if metrics.refused[hub.RefusedLimit] != 2 {
				t.Errorf("refused for the limit: %v, want 2", metrics.refused)
			}
		})
	}
}

// TestClientSubscriberLimit: one client address holds at most
// Options.MaxClientSubscribers streams; more get a 429 with Retry-After,
// while another address is not affected.
func TestClientSubscriberLimit(t *testing.T) {
	t.Parallel()
	metrics := newCounters()
	e := hubtest.New(t, hubtest.Config{Hub: hub.Options{MaxClientSubscribers: 2, Metrics: metrics}})
	for range 2 {
		e.Subscribe(t, hubtest.Topics("t"), nil)
	}
	refusal(t, e, hubtest.Topics("t"), nil, http.StatusTooManyRequests, "as many streams open as one client may (2)")

	// Another address (127.0.0.2 is loopback too) has its own share.
	resp, cancel := subscribeFromOtherAddress(t, e, hubtest.Topics("t"))
	s := hubtest.StartStream(t, resp, cancel)
	id := e.PublishData(t, "x", "t")
	s.Until(t, id)
	if st := e.Hub.Stats(); st.Clients != 2 {
		t.Errorf("Stats.Clients = %d, want 2", st.Clients)
	}
	metrics.mu.Lock()
	defer metrics.mu.Unlock()
	if metrics.refused[hub.RefusedClientLimit] != 1 {
		t.Errorf("refused for the client limit: %v, want 1", metrics.refused)
	}
}

// TestTemplateLimit: the hub holds at most Options.MaxTemplates distinct
// URI-template selectors; a subscription that would add one more is refused,
// while templates already in use, and exact topics, are still accepted. A
// template is released when its last subscriber leaves.
func TestTemplateLimit(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Hub: hub.Options{MaxTemplates: 2}})
	a := e.Subscribe(t, hubtest.Topics("/a/{x}", "/b/{x}"), nil)
	refusal(t, e, hubtest.Topics("/c/{x}"), nil, http.StatusServiceUnavailable, "URI-template selectors")
	e.Subscribe(t, hubtest.Topics("/a/{x}", "exact"), nil)
	if st := e.Hub.Stats(); st.Templates != 2 || st.MaxTemplates != 2 {
		t.Errorf("Stats: %+v, want 2 templates of 2", st)
	}
	a.Close()
	waitFor(t, "/b/{x} to be released", func() bool { return e.Hub.Stats().Templates == 1 })
	e.Subscribe(t, hubtest.Topics("/c/{x}"), nil)
}

// subscribeFromOtherAddress subscribes to query from 127.0.0.2 (loopback
// too), which has a client share of its own, and fails the test unless the
// hub answers 200. The stream is cancelled when the test ends, or by cancel.
func subscribeFromOtherAddress(t *testing.T, e *hubtest.Env, query string) (*http.Response, context.CancelFunc) {
	t.Helper()
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
	}).DialContext}}
	t.Cleanup(other.CloseIdleConnections)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"?"+query, nil)
	resp, err := other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("from another address, ?%s: %s, want 200", query, resp.Status)
	}
	return resp, cancel
}

// TestClientTemplateLimit: the subscribers of one client address hold at
// most Options.MaxClientTemplates distinct URI-template selectors (or URL
// patterns); a subscription that would add one more is refused with a 429,
// while templates the client already holds, templates of the same key
// spelled by another subscriber, and exact topics are still accepted;
// another address has its own share; a template counts until the client's
// last subscriber of it leaves.
func TestClientTemplateLimit(t *testing.T) {
	t.Parallel()
	metrics := newCounters()
	e := hubtest.New(t, hubtest.Config{Hub: hub.Options{MaxClientTemplates: 2, Metrics: metrics}})
	a := e.Subscribe(t, hubtest.Topics("/a/{x}", "/b/{x}"), nil)
	e.Subscribe(t, hubtest.Topics("/a/{x}", "exact"), nil) // held already: no new template
	refusal(t, e, hubtest.Topics("/c/{x}", "exact"), nil, http.StatusTooManyRequests, "distinct URI-template selectors and URL patterns as one client may (2)")

	subscribeFromOtherAddress(t, e, hubtest.Topics("/c/{x}", "/d/{x}"))

	a.Close() // /b/{x} is released; /a/{x} is still held by the second subscriber
	waitFor(t, "the client's /b/{x} to be released", func() bool {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"?"+hubtest.Topics("/c/{x}"), nil)
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := e.Client.Do(req.WithContext(ctx))
		if err != nil {
			cancel()
			return false
		}
		ok := resp.StatusCode == http.StatusOK
		cancel()
		resp.Body.Close()
		return ok
	})
	metrics.mu.Lock()
	defer metrics.mu.Unlock()
	if metrics.refused[hub.RefusedClientTemplates] < 1 {
		t.Errorf("refused for the client's templates: %v, want at least 1", metrics.refused)
	}
}

// TestReplayLimit: at most Options.ConcurrentReplays subscriptions replay
// history at once; another resuming subscription waits up to ReplayWait for
// a slot, then is refused with a 503; a fresh subscription is not affected.
func TestReplayLimit(t *testing.T) {
	t.Parallel()
	st := &pausingStore{Store: memory.New(memory.Options{}), paused: make(chan struct{}), resume: make(chan struct{})}
	e := hubtest.New(t, hubtest.Config{Store: st, Hub: hub.Options{ConcurrentReplays: 1, ReplayWait: 50 * time.Millisecond}})
	e.PublishData(t, "history", "t")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opened := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"?"+hubtest.Topics("t"), nil)
		req.Header.Set("Last-Event-ID", herald.EarliestID)
		resp, err := e.Client.Do(req)
		if err != nil {
			opened <- nil
			return
		}
		opened <- resp
	}()
	<-st.paused // the first replay holds the only slot
	if got := e.Hub.Stats().Replays; got != 1 {
		t.Errorf("Stats.Replays = %d, want 1", got)
	}
	took := refusal(t, e, hubtest.Topics("t"), http.Header{"Last-Event-ID": {herald.EarliestID}}, http.StatusServiceUnavailable, "catching up on history")
	if took < 50*time.Millisecond {
		t.Errorf("refused after %v, before ReplayWait", took)
	}
	fresh := e.Subscribe(t, hubtest.Topics("t"), nil)
	close(st.resume)
	resp := <-opened
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the paused replay: %v", resp)
	}
	s := hubtest.StartStream(t, resp, cancel)
	id := e.PublishData(t, "live", "t")
	fresh.Until(t, id)
	s.Until(t, id)
	waitFor(t, "the replay slot to be free", func() bool { return e.Hub.Stats().Replays == 0 })
	again := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {herald.EarliestID}})
	again.Until(t, id)
}

// TestQueueBytes: a subscriber that stops reading is disconnected once more
// than Options.QueueBytes wait for it, long before QueueLimit events; one
// that keeps up receives an event larger than that limit.
func TestQueueBytes(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			metrics := newCounters()
			e := hubtest.New(t, hubtest.Config{
				Mode:     m,
				Hub:      hub.Options{QueueLimit: 1 << 20, QueueBytes: 256 << 10, Metrics: metrics},
				Listener: func(l net.Listener) net.Listener { return smallBufferListener{l} },
			})
			stalled := stall(t, e)
			fast := e.Subscribe(t, hubtest.Topics("t"), nil)
			// An event larger than QueueBytes reaches a subscriber that keeps up.
			big := e.PublishData(t, strings.Repeat("b", 300<<10), "t")
			fast.Until(t, big)
			publishUntilSlow(t, e, metrics, fast, strings.Repeat("x", 32<<10), 400)
			stalled.Body.Close()
			waitFor(t, "no queued bytes", func() bool { return e.Hub.Stats().QueuedBytes == 0 })
		})
	}
}

// TestQueuedBytesBudget: past Options.QueuedBytes, subscribers that have
// events waiting are disconnected as too slow, while one that keeps up gets
// everything; what they held is given back.
func TestQueuedBytesBudget(t *testing.T) {
	t.Parallel()
	metrics := newCounters()
	e := hubtest.New(t, hubtest.Config{
		Hub:      hub.Options{QueueLimit: 1 << 20, QueueBytes: -1, QueuedBytes: 1 << 20, Metrics: metrics},
		Listener: func(l net.Listener) net.Listener { return smallBufferListener{l} },
	})
	var stalled []*http.Response
	for range 4 {
		stalled = append(stalled, stall(t, e))
	}
	fast := e.Subscribe(t, hubtest.Topics("t"), nil)
	data := strings.Repeat("x", 16<<10)
	peak := int64(0)
	for i := 0; i < 400 && metrics.removedCopy()[hub.ReasonSlow] < len(stalled); i++ {
		id := e.PublishData(t, data, "t")
		fast.Until(t, id)
		peak = max(peak, e.Hub.Stats().QueuedBytes)
	}
	waitFor(t, "the stalled subscribers to be disconnected", func() bool {
		return metrics.removedCopy()[hub.ReasonSlow] == len(stalled)
	})
	if peak > 2<<20 {
		t.Errorf("queued bytes peaked at %d, far over the budget of %d", peak, 1<<20)
	}
	id := e.PublishData(t, "after", "t")
	fast.Until(t, id)
	waitFor(t, "no queued bytes", func() bool { return e.Hub.Stats().QueuedBytes == 0 })
	for _, r := range stalled {
		r.Body.Close()
	}
}

// stall opens a subscription to "t" with a small receive buffer and never
// reads it.
func stall(t *testing.T, e *hubtest.Env) *http.Response {
	t.Helper()
	client := smallBufferClient(e.Client)
	t.Cleanup(client.Transport.(*http.Transport).CloseIdleConnections)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"?"+hubtest.Topics("t"), nil)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// waitFor polls cond until it holds, for up to hubtest.WaitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hubtest.WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out after %v", what, hubtest.WaitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
