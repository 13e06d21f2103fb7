package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

// appendConcurrently has p goroutines append n updates each and returns every
// acknowledged update sorted by Seq. It checks that each goroutine's own
// updates got increasing Seqs.
func appendConcurrently(t *testing.T, st herald.Store, prefix string, p, n int) []herald.Update {
	t.Helper()
	var (
		mu    sync.Mutex
		acked []herald.Update
		wg    sync.WaitGroup
	)
	for g := range p {
		wg.Go(func() {
			var prev uint64
			for i := range n {
				u := upd(prefix, fmt.Sprintf("%s-%d-%d", prefix, g, i))
				if i%7 == 3 {
					u.ID = fmt.Sprintf("%s-id-%d-%d", prefix, g, i)
				}
				got, err := st.Append(context.Background(), u)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if got.Seq <= prev {
					t.Errorf("goroutine %d: Seq %d after its own %d, want increasing", g, got.Seq, prev)
				}
				prev = got.Seq
				mu.Lock()
				acked = append(acked, got)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.SortFunc(acked, func(a, b herald.Update) int { return cmp.Compare(a.Seq, b.Seq) })
	return acked
}

// testWatch: several watchers each see every update appended after they
// registered, once, in Seq order, whether appended one by one or
// concurrently (which lets a store batch them).
func (s *suite) testWatch(t *testing.T) {
	st := s.store(t, herald.Retention{})
	ws := []*watcher{startWatcher(t, st), startWatcher(t, st), startWatcher(t, st)}
	probe := syncWatchers(t, st, ws...)
	want := []herald.Update{probe}
	want = append(want, appendN(t, st, "watch", 20, 3)...)
	want = append(want, appendConcurrently(t, st, "watchc", 8, 25)...)
	for i, w := range ws {
		w.waitSeen(t, fmt.Sprint(i), want)
	}

	// A watcher that joins later sees what is appended after it joined.
	late := startWatcher(t, st)
	probe = syncWatchers(t, st, late)
	more := append([]herald.Update{probe}, appendN(t, st, "late", 5, 0)...)
	late.waitSeen(t, "late", more)
	ws[0].waitSeen(t, "0 (again)", more)
}

// testWatchRegistration: once Watch has signalled its registration (its
// first, empty batch), the very next append reaches it, with no probing.
func (s *suite) testWatchRegistration(t *testing.T) {
	st := s.store(t, herald.Retention{})
	w := startWatcher(t, st)
	want := []herald.Update{mustAppend(t, st, upd("registered", "first"))}
	w.waitSeen(t, "registered", want)
}

// testWatchCancelled: Watch returns nil once its context is done.
func (s *suite) testWatchCancelled(t *testing.T) {
	st := s.store(t, herald.Retention{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan error, 1)
	go func() { done <- st.Watch(ctx, func([]herald.Update) {}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch with a cancelled context = %v, want nil", err)
		}
	case <-time.After(Timeout):
		t.Fatalf("Watch with a cancelled context did not return within %v", Timeout)
	}

	w := startWatcher(t, st)
	syncWatchers(t, st, w)
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Watch after cancel = %v, want nil", err)
		}
		w.done <- nil // for the cleanup
	case <-time.After(Timeout):
		t.Fatalf("Watch did not return within %v of its context being cancelled", Timeout)
	}
}

// testConcurrent: many goroutines append while others replay and watch (run
// with -race). Every watcher sees every acknowledged update exactly once in
// Seq order; every replay is in Seq order and includes every update that was
// acknowledged before it started.
func (s *suite) testConcurrent(t *testing.T) {
	st := s.store(t, herald.Retention{})
	ws := []*watcher{startWatcher(t, st), startWatcher(t, st), startWatcher(t, st)}
	probe := syncWatchers(t, st, ws...)

	var (
		mu    sync.Mutex
		acked []herald.Update // in acknowledgement order
		done  = make(chan struct{})
		wg    sync.WaitGroup
	)
	const publishers, perPublisher = 8, 60
	for g := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				u := upd("conc", fmt.Sprintf("conc-%d-%d", g, i))
				if i%5 == 0 {
					u.ID = fmt.Sprintf("conc-id-%d-%d", g, i)
				}
				got, err := st.Append(context.Background(), u)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, got)
				mu.Unlock()
			}
		})
	}
	var rg sync.WaitGroup
	for r := range 3 {
		rg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(r), 1))
			for i := 0; i < 200; i++ {
				mu.Lock()
				before := slices.Clone(acked)
				mu.Unlock()
				after, from := herald.EarliestID, uint64(0)
				if len(before) > 0 && r > 0 {
					pick := before[rnd.IntN(len(before))]
					after, from = pick.ID, pick.Seq
				}
				got, err := replay(t, st, after)
				if err != nil {
					t.Errorf("Replay(%q) during appends: %v", after, err)
					return
				}
				seen := make(map[string]bool, len(got))
				for j, u := range got {
					if j > 0 && u.Seq <= got[j-1].Seq || u.Seq <= from {
						t.Errorf("Replay(%q): Seq %d out of order", after, u.Seq)
						return
					}
					seen[u.ID] = true
				}
				for _, u := range before {
					if u.Seq > from && !seen[u.ID] {
						t.Errorf("Replay(%q) misses %q (Seq %d), acknowledged before it started", after, u.ID, u.Seq)
						return
					}
				}
				if len(before) > 0 {
					pick := before[rnd.IntN(len(before))]
					got, err := st.Lookup(context.Background(), pick.ID)
					if d := sameUpdate(got, pick); err != nil || d != "" {
						t.Errorf("Lookup(%q) during appends = %v, %s", pick.ID, err, d)
						return
					}
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.SortFunc(acked, func(a, b herald.Update) int { return cmp.Compare(a.Seq, b.Seq) })
	want := append([]herald.Update{probe}, acked...)
	for i, w := range ws {
		w.waitSeen(t, fmt.Sprint(i), want)
	}
	checkUpdates(t, "Replay(probe) after the appends", mustReplay(t, st, probe.ID), acked)
}

// testClose: Close waits for Appends in flight; each Append either succeeds
// (and its update reaches the watcher) or fails with ErrClosed; afterwards
// Append and Replay return ErrClosed and Watch returns.
func (s *suite) testClose(t *testing.T) {
	st := s.store(t, herald.Retention{})
	w := startWatcher(t, st)
	probe := syncWatchers(t, st, w)

	var (
		mu     sync.Mutex
		acked  []herald.Update
		wg     sync.WaitGroup
		enough = make(chan struct{})
		once   sync.Once
	)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				got, err := st.Append(context.Background(), upd("close", fmt.Sprintf("close-%d-%d", g, i)))
				if err != nil {
					if !errors.Is(err, herald.ErrClosed) {
						t.Errorf("Append racing Close = %v, want nil or ErrClosed", err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, got)
				if len(acked) >= 40 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(Timeout):
		t.Fatalf("fewer than 40 Appends succeeded within %v", Timeout)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Watch after Close = %v, want nil", err)
		}
		w.done <- nil // for the cleanup
	case <-time.After(Timeout):
		t.Fatalf("Watch did not return within %v of Close", Timeout)
	}
	slices.SortFunc(acked, func(a, b herald.Update) int { return cmp.Compare(a.Seq, b.Seq) })
	// Every acknowledged update reaches the watcher, even those acknowledged
	// while Close was waiting for them.
	checkUpdates(t, "watcher after Close", w.from(probe.ID), append([]herald.Update{probe}, acked...))

	if _, err := st.Append(t.Context(), upd("close", "after")); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := st.Replay(t.Context(), herald.EarliestID, func(herald.Update) error {
		t.Error("Replay after Close called fn")
		return nil
	}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Replay after Close = %v, want ErrClosed", err)
	}
	if _, err := st.AppendBatch(t.Context(), []herald.Update{upd("close", "batch")}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("AppendBatch after Close = %v, want ErrClosed", err)
	}
	if _, err := st.Lookup(t.Context(), probe.ID); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Lookup after Close = %v, want ErrClosed", err)
	}
	if _, _, err := st.Last(t.Context()); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Last after Close = %v, want ErrClosed", err)
	}
	done := make(chan error, 1)
	go func() { done <- st.Watch(context.Background(), func([]herald.Update) {}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch after Close = %v, want nil", err)
		}
	case <-time.After(Timeout):
		t.Fatalf("Watch called after Close did not return within %v", Timeout)
	}
}
