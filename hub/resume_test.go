package hub_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/store/memory"
)

// tryPublish is e.Publish for goroutines other than the test's, with token.
func tryPublish(e *hubtest.Env, token, data string, topics ...string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, e.URL, strings.NewReader(url.Values{"topic": topics, "data": {data}}.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.Client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("publish: %s: %s", resp.Status, b)
	}
	return string(b), nil
}

// TestResumeUnderConcurrentPublishing: while updates are published
// continuously from several goroutines, subscribers connect with no
// Last-Event-ID, with "earliest", and with ids acknowledged so far (in the
// header and in the query). Each must receive, replay then live, a strictly
// increasing, gap-free run of the acknowledged updates that starts right
// after the id it gave (or after the Last-Event-ID the hub answered) and
// ends with the last update published.
func TestResumeUnderConcurrentPublishing(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			st := memory.New(memory.Options{Instance: "conc"})
			e := hubtest.New(t, hubtest.Config{Mode: m, Store: st})
			token := hubtest.PublisherToken(t)
			const publishers, perPublisher, subscribers = 4, 60, 16

			var mu sync.Mutex
			acked := map[uint64]string{} // seq -> data
			var ackedIDs []string        // in acknowledgement order
			ack := func(id, data string) error {
				_, seq, ok := herald.ParseID(id)
				if !ok {
					return fmt.Errorf("publish answered %q, not a generated id", id)
				}
				mu.Lock()
				defer mu.Unlock()
				if _, dup := acked[seq]; dup {
					return fmt.Errorf("id %q acknowledged twice", id)
				}
				acked[seq] = data
				ackedIDs = append(ackedIDs, id)
				return nil
			}
			for i := range 10 {
				data := fmt.Sprint("pre-", i)
				if err := ack(e.PublishData(t, data, "t"), data); err != nil {
					t.Fatal(err)
				}
			}

			var wg sync.WaitGroup
			errs := make(chan error, publishers)
			for p := range publishers {
				wg.Go(func() {
					for i := range perPublisher {
						data := fmt.Sprintf("p%d-%d", p, i)
						id, err := tryPublish(e, token, data, "t")
						if err == nil {
							err = ack(id, data)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}

			type sub struct {
				how   string
				after uint64 // the seq it must start after; ^0: any (no Last-Event-ID)
				s     *hubtest.Stream
			}
			var subs []*sub
			rnd := rand.New(rand.NewPCG(1, 2))
			for i := range subscribers {
				mu.Lock()
				pick := ackedIDs[rnd.IntN(len(ackedIDs))]
				mu.Unlock()
				_, pickSeq, _ := herald.ParseID(pick)
				var x *sub
				switch i % 4 {
				case 0:
					x = &sub{how: "no Last-Event-ID", s: e.Subscribe(t, hubtest.Topics("t"), nil)}
					// Live from the id the hub says the stream starts after.
					if h := x.s.Response.Header.Get("Last-Event-ID"); h != herald.EarliestID {
						_, x.after, _ = herald.ParseID(h)
					}
				case 1:
					x = &sub{how: "earliest", s: e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {herald.EarliestID}})}
				case 2:
					x = &sub{how: "header " + pick, after: pickSeq, s: e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {pick}})}
				case 3:
					x = &sub{how: "query " + pick, after: pickSeq, s: e.Subscribe(t, hubtest.Topics("t")+"&lastEventID="+url.QueryEscape(pick), nil)}
				}
				subs = append(subs, x)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			last := e.PublishData(t, "last", "t")
			if err := ack(last, "last"); err != nil {
				t.Fatal(err)
			}
			_, lastSeq, _ := herald.ParseID(last)
			if want := uint64(10 + publishers*perPublisher + 1); lastSeq != want || len(acked) != int(want) {
				t.Fatalf("%d updates acknowledged, last seq %d, want %d", len(acked), lastSeq, want)
			}

			for _, x := range subs {
				evs := x.s.Until(t, last)
				next := x.after + 1
				for _, ev := range evs {
					inst, seq, ok := herald.ParseID(ev.ID)
					if !ok || inst != "conc" {
						t.Fatalf("%s: received id %q", x.how, ev.ID)
					}
					if seq != next {
						t.Fatalf("%s: received seq %d after %d: want %d (a gap or a duplicate)", x.how, seq, next-1, next)
					}
					if ev.Data != acked[seq] {
						t.Fatalf("%s: seq %d has data %q, want %q", x.how, seq, ev.Data, acked[seq])
					}
					next++
				}
				x.s.Close()
			}
		})
	}
}

// laggingStore is a memory store whose live tail (Watch) can be held back
// while Append goes on, as the tail of a clustered store (Redis Streams,
// NATS JetStream) lags behind the log by design.
type laggingStore struct {
	*memory.Store
	mu   sync.Mutex
	gate chan struct{} // batches wait until it is closed
}

func newLaggingStore(opts memory.Options) *laggingStore {
	open := make(chan struct{})
	close(open)
	return &laggingStore{Store: memory.New(opts), gate: open}
}

func (s *laggingStore) Watch(ctx context.Context, fn func([]herald.Update)) error {
	return s.Store.Watch(ctx, func(batch []herald.Update) {
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		select {
		case <-gate:
			fn(batch)
		case <-ctx.Done():
		}
	})
}

// hold holds back the batches appended from now on.
func (s *laggingStore) hold() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

// release lets the held batches through.
func (s *laggingStore) release() {
	s.mu.Lock()
	close(s.gate)
	s.mu.Unlock()
}

// TestResumeWithLaggingWatch: history (Replay) can be ahead of the live
// tail (Watch). An update a subscriber got from history, or one that is
// older than the Last-Event-ID its stream was answered with, must not be
// sent to it again when the live tail catches up, whether that id is one the
// publisher chose or the position a fresh stream was answered with.
func TestResumeWithLaggingWatch(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			st := newLaggingStore(memory.Options{})
			e := hubtest.New(t, hubtest.Config{Mode: m, Store: st})
			a := e.PublishData(t, "a", "t")
			st.hold()
			b := e.PublishData(t, "b", "t") // stored, not yet live
			c := e.Publish(t, url.Values{"topic": {"t"}, "data": {"c"}, "id": {"c-chosen"}})
			stored, err := st.Lookup(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			cPos := herald.FormatID(st.Instance(), stored.Seq)

			fromA := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {a}})             // replays b, c
			fromC := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {c}})             // replays nothing
			fromCPos := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {cPos}})       // replays nothing
			earliest := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {"earliest"}}) // replays a, b, c
			fresh := e.Subscribe(t, hubtest.Topics("t"), nil)                                           // told it starts after c
			if got := fresh.Response.Header.Get("Last-Event-ID"); got != cPos {
				t.Errorf("fresh subscription: Last-Event-ID %q, want the newest update's position %q", got, cPos)
			}
			st.release()
			d := e.PublishData(t, "d", "t")
			for _, tc := range []struct {
				name string
				s    *hubtest.Stream
				want []string
			}{
				{"resumed from a", fromA, []string{b, c, d}},
				{"resumed from c", fromC, []string{d}},
				{"resumed from c's position", fromCPos, []string{d}},
				{"resumed from earliest", earliest, []string{a, b, c, d}},
				{"fresh", fresh, []string{d}},
			} {
				if got := hubtest.IDs(tc.s.Until(t, d)); !slices.Equal(got, tc.want) {
					t.Errorf("%s: received %q, want %q", tc.name, got, tc.want)
				}
			}
		})
	}
}

// pausingStore is a memory store whose first Replay pauses at its first
// update until resume is closed, so that a test can publish while a
// subscriber is being replayed to.
type pausingStore struct {
	*memory.Store
	once   sync.Once
	paused chan struct{} // closed when the first Replay reached its first update
	resume chan struct{}
}

func (s *pausingStore) Replay(ctx context.Context, after string, fn func(herald.Update) error) error {
	return s.Store.Replay(ctx, after, func(u herald.Update) error {
		s.once.Do(func() {
			close(s.paused)
			select {
			case <-s.resume:
			case <-ctx.Done():
			}
		})
		return fn(u)
	})
}

// TestResumeOverflowDuringReplay: when more live updates arrive during a
// replay than the subscriber's queue holds, the hub reads history again
// from where the replay got to instead of dropping them: the subscriber
// still gets every update once, in order.
func TestResumeOverflowDuringReplay(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			st := &pausingStore{Store: memory.New(memory.Options{}), paused: make(chan struct{}), resume: make(chan struct{})}
			const queueLimit = 8
			e := hubtest.New(t, hubtest.Config{Mode: m, Store: st, Hub: hub.Options{QueueLimit: queueLimit}})
			var want []string
			for i := range 5 {
				want = append(want, e.PublishData(t, fmt.Sprint("history ", i), "t"))
			}
			observer := e.Subscribe(t, hubtest.Topics("t"), nil)

			type result struct {
				resp *http.Response
				err  error
			}
			opened := make(chan result, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				// Returns once the headers are out, after the pause.
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"?"+hubtest.Topics("t"), nil)
				req.Header.Set("Last-Event-ID", herald.EarliestID)
				resp, err := e.Client.Do(req)
				opened <- result{resp, err}
			}()
			select {
			case <-st.paused:
			case <-time.After(hubtest.WaitTimeout):
				t.Fatal("the replay did not start")
			}
			// Publish in groups smaller than the queue, waiting for the
			// observer to get each: it must not fall behind (and be cut
			// off) itself. The paused subscriber's queue overflows.
			for i := range 3 * queueLimit {
				want = append(want, e.PublishData(t, fmt.Sprint("live ", i), "t"))
				if i%(queueLimit/2) == queueLimit/2-1 {
					observer.Until(t, want[len(want)-1])
				}
			}
			// The last group was awaited: the fan-out has queued them all.
			close(st.resume)
			var s *hubtest.Stream
			select {
			case r := <-opened:
				if r.err != nil || r.resp.StatusCode != http.StatusOK {
					t.Fatalf("resumed subscription: %v %v", r.resp, r.err)
				}
				s = hubtest.StartStream(t, r.resp, cancel)
			case <-time.After(hubtest.WaitTimeout):
				t.Fatal("the resumed subscription did not open")
			}
			last := e.PublishData(t, "after", "t")
			want = append(want, last)
			if got := hubtest.IDs(s.Until(t, last)); !slices.Equal(got, want) {
				t.Errorf("received %q\nwant %q", got, want)
			}
		})
	}
}

// TestOverflowBeforeGoingLive: updates that overflow a stream's queue after
// its history was sent but before it goes live (here: while its request
// goroutine still owns it) are not lost: the stream is cut, and the client,
// resuming from the last event it got, receives them from history. A fresh
// stream is no exception.
func TestOverflowBeforeGoingLive(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprintf("resume=%v", resume), func(t *testing.T) {
			t.Parallel()
			const queueLimit = 2
			e := hubtest.New(t, hubtest.Config{Hub: hub.Options{QueueLimit: queueLimit}})
			observer := e.Subscribe(t, hubtest.Topics("t"), nil)
			first := e.PublishData(t, "history", "t")
			observer.Until(t, first)
			var burst []string
			once := sync.Once{}
			hooked := make(chan struct{})
			hub.SetBeforeLive(e.Hub, func() {
				once.Do(func() {
					defer close(hooked)
					// More than the queue holds, published (and queued) in
					// the window, in groups the observer keeps up with.
					for i := range 3 * queueLimit {
						burst = append(burst, e.PublishData(t, fmt.Sprint("burst ", i), "t"))
						if i%queueLimit == queueLimit-1 {
							observer.Until(t, burst[len(burst)-1])
						}
					}
				})
			})
			hdr := http.Header{}
			if resume {
				hdr.Set("Last-Event-ID", first)
			}
			s := e.Subscribe(t, hubtest.Topics("t"), hdr)
			<-hooked
			marker := e.PublishData(t, "marker", "t")
			// Read until the marker, or until the stream ends.
			var got []string
			for {
				ev, err := s.NextErr()
				if err != nil {
					break
				}
				got = append(got, ev.ID)
				if ev.ID == marker {
					break
				}
			}
			var all []string
			if len(got) > 0 && got[len(got)-1] == marker {
				all = got
			} else {
				// The stream ended: the client resumes from what it has.
				lastID := s.Response.Header.Get("Last-Event-ID")
				if len(got) > 0 {
					lastID = got[len(got)-1]
				}
				again := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {lastID}})
				all = append(got, hubtest.IDs(again.Until(t, marker))...)
			}
			want := append(slices.Clone(burst), marker)
			if !slices.Equal(all, want) {
				t.Errorf("received %q, want %q", all, want)
			}
		})
	}
}
