// Package storetest is the conformance suite for [herald.Store]
// implementations, in the manner of testing/slogtest: every store runs it
// against its real backend.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, r herald.Retention) herald.Store {
//			s, err := mystore.Open(t.TempDir(), mystore.Options{Retention: r})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite checks the guarantees written in the [herald.Store] doc comment:
// ordering and id assignment, batches (in order, whole or not at all, with
// consecutive Seqs, never interleaved with other updates), ids held at most once (conflicts, sequential and
// concurrent, and reuse once retention removed the update), replay and lookup
// from every id and position, unknown and foreign ids, retention by count,
// age and bytes and the zero Retention, live watching, concurrent use (run it
// with -race), Last, Close, fn errors and context cancellation. [RunNodes]
// checks what a log shared by several store instances (cluster nodes) adds. Retention is allowed to take effect "slightly later": those
// tests poll with a bounded deadline. Other timing is never asserted.
//
// Where the contract leaves room, the suite reads it as follows:
//   - Watch's first, empty batch says it is registered: the suite waits for
//     it, then requires the very next append to reach the watcher.
//   - "When Append returns nil the update will be passed to Watch" holds
//     across Close: a watcher running when Close is called sees every
//     acknowledged update before its Watch returns.
//   - Replay checks its context before each call of fn, so no fn call
//     follows a cancellation it could see.
//   - Seq need not start at any value nor be contiguous; ids minted by the
//     store for Seqs it never assigned are not held.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

// Timeout bounds every wait in the suite: retention taking effect, watchers
// catching up, Watch returning after Close.
const Timeout = 20 * time.Second

// Run runs the conformance suite as subtests of t. open must return a new,
// empty store that keeps history as r says; it is called once per subtest.
// Run closes every store it gets (and tolerates a second Close after a
// subtest closed the store itself). open may register cleanup with
// t.Cleanup; it runs after the store is closed.
func Run(t *testing.T, open func(t *testing.T, r herald.Retention) herald.Store) {
	s := &suite{open: open}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Append/AssignsSeqTimeAndID", s.testAppendAssigns},
		{"Append/KeepsPublisherID", s.testAppendKeepsPublisherID},
		{"Append/RoundTripsEveryField", s.testAppendRoundTrip},
		{"Append/RejectsInvalid", s.testAppendInvalid},
		{"Append/CancelledContext", s.testAppendCancelled},
		{"Append/ConflictingID", s.testAppendConflict},
		{"Append/ConflictingIDConcurrent", s.testAppendConflictConcurrent},
		{"AppendBatch/OrderAndIDs", s.testBatchOrder},
		{"AppendBatch/RefusedWhole", s.testBatchRefused},
		{"AppendBatch/CancelledContext", s.testBatchCancelled},
		{"AppendBatch/Concurrent", s.testBatchConcurrent},
		{"AppendBatch/ConflictingIDConcurrent", s.testBatchConflictConcurrent},
		{"AppendBatch/Retention", s.testBatchRetention},
		{"Replay/EveryPosition", s.testReplayEveryPosition},
		{"Replay/EmptyStore", s.testReplayEmpty},
		{"Replay/NotHeld", s.testReplayNotHeld},
		{"Replay/Position", s.testReplayPosition},
		{"Replay/UpToNewestAtStart", s.testReplayUpToNewest},
		{"Replay/FnErrorStops", s.testReplayFnError},
		{"Replay/ContextCancelled", s.testReplayCancelled},
		{"Lookup", s.testLookup},
		{"Last", s.testLast},
		{"Retention/Count", s.testRetentionCount},
		{"Retention/ReuseAfterTrim", s.testRetentionReuseAfterTrim},
		{"Retention/ZeroKeepsEverything", s.testRetentionZero},
		{"Retention/Age", s.testRetentionAge},
		{"Retention/Bytes", s.testRetentionBytes},
		{"Watch/EveryUpdateOnceInOrder", s.testWatch},
		{"Watch/RegistrationSignal", s.testWatchRegistration},
		{"Watch/ContextCancelled", s.testWatchCancelled},
		{"Concurrent", s.testConcurrent},
		{"Close", s.testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open func(t *testing.T, r herald.Retention) herald.Store
}

// store opens a store for one subtest and closes it when the subtest ends.
func (s *suite) store(t *testing.T, r herald.Retention) herald.Store {
	t.Helper()
	st := s.open(t, r)
	if st == nil {
		t.Fatal("open returned a nil store")
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// upd returns a valid update on topic "urn:storetest:<name>" carrying data.
func upd(name, data string) herald.Update {
	return herald.Update{Topics: []string{"urn:storetest:" + name}, Data: data}
}

func mustAppend(t *testing.T, st herald.Store, u herald.Update) herald.Update {
	t.Helper()
	got, err := st.Append(t.Context(), u)
	if err != nil {
		t.Fatalf("Append(%q): %v", u.Data, err)
	}
	return got
}

// appendN appends n updates with data "<prefix>-<i>"; every k-th (k > 0) has
// the publisher id "<prefix>-id-<i>".
func appendN(t *testing.T, st herald.Store, prefix string, n, k int) []herald.Update {
	t.Helper()
	out := make([]herald.Update, n)
	for i := range n {
		u := upd(prefix, fmt.Sprintf("%s-%d", prefix, i))
		if k > 0 && i%k == k-1 {
			u.ID = fmt.Sprintf("%s-id-%d", prefix, i)
		}
		out[i] = mustAppend(t, st, u)
	}
	return out
}

// replay collects what Replay(after) returns.
func replay(t *testing.T, st herald.Store, after string) ([]herald.Update, error) {
	t.Helper()
	var got []herald.Update
	err := st.Replay(t.Context(), after, func(u herald.Update) error {
		got = append(got, u)
		return nil
	})
	return got, err
}

func mustReplay(t *testing.T, st herald.Store, after string) []herald.Update {
	t.Helper()
	got, err := replay(t, st, after)
	if err != nil {
		t.Fatalf("Replay(%q): %v", after, err)
	}
	return got
}

// sameUpdate reports how got differs from want, or "" when they are equal.
func sameUpdate(got, want herald.Update) string {
	var d []string
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID %q, want %q", got.ID, want.ID))
	}
	if !slices.Equal(got.Topics, want.Topics) {
		d = append(d, fmt.Sprintf("Topics %q, want %q", got.Topics, want.Topics))
	}
	if got.Private != want.Private {
		d = append(d, fmt.Sprintf("Private %v, want %v", got.Private, want.Private))
	}
	if got.Type != want.Type {
		d = append(d, fmt.Sprintf("Type %q, want %q", got.Type, want.Type))
	}
	if got.Data != want.Data {
		d = append(d, fmt.Sprintf("Data %.40q (%d bytes), want %.40q (%d bytes)", got.Data, len(got.Data), want.Data, len(want.Data)))
	}
	if got.Retry != want.Retry {
		d = append(d, fmt.Sprintf("Retry %v, want %v", got.Retry, want.Retry))
	}
	if got.Seq != want.Seq {
		d = append(d, fmt.Sprintf("Seq %d, want %d", got.Seq, want.Seq))
	}
	if !got.Time.Equal(want.Time) {
		d = append(d, fmt.Sprintf("Time %v, want %v", got.Time, want.Time))
	}
	return strings.Join(d, "; ")
}

// checkUpdates fails t unless got equals want, update by update.
func checkUpdates(t *testing.T, what string, got, want []herald.Update) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d updates %v, want %d %v", what, len(got), seqsOf(got), len(want), seqsOf(want))
	}
	for i := range got {
		if d := sameUpdate(got[i], want[i]); d != "" {
			t.Fatalf("%s: update %d: %s", what, i, d)
		}
	}
}

func seqsOf(us []herald.Update) []uint64 {
	s := make([]uint64, len(us))
	for i, u := range us {
		s[i] = u.Seq
	}
	return s
}

func idsOf(us []herald.Update) []string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = u.ID
	}
	return s
}

// instanceOf returns the instance id in u's generated ID.
func instanceOf(t *testing.T, u herald.Update) string {
	t.Helper()
	in, seq, ok := herald.ParseID(u.ID)
	if !ok || seq != u.Seq {
		t.Fatalf("generated ID %q is not herald.FormatID(instance, %d)", u.ID, u.Seq)
	}
	return in
}

func mustLookup(t *testing.T, st herald.Store, id string) herald.Update {
	t.Helper()
	got, err := st.Lookup(t.Context(), id)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", id, err)
	}
	return got
}

// checkLookupNotHeld fails t unless Lookup(id) returns ErrNotHeld.
func checkLookupNotHeld(t *testing.T, st herald.Store, id string) {
	t.Helper()
	if got, err := st.Lookup(t.Context(), id); !errors.Is(err, herald.ErrNotHeld) {
		t.Errorf("Lookup(%q) = %q (Seq %d), %v; want an error wrapping ErrNotHeld", id, got.ID, got.Seq, err)
	}
}

// checkConflict fails t unless Append(u) is refused with ErrConflict.
func checkConflict(t *testing.T, st herald.Store, u herald.Update) {
	t.Helper()
	if got, err := st.Append(t.Context(), u); !errors.Is(err, herald.ErrConflict) {
		t.Errorf("Append of an update with the held id %q = %q (Seq %d), %v; want an error wrapping ErrConflict", u.ID, got.ID, got.Seq, err)
	}
}

// checkNotHeld fails t unless Replay(after) returns ErrNotHeld without
// calling fn.
func checkNotHeld(t *testing.T, st herald.Store, after string) {
	t.Helper()
	calls := 0
	err := st.Replay(t.Context(), after, func(herald.Update) error {
		calls++
		return nil
	})
	if !errors.Is(err, herald.ErrNotHeld) {
		t.Errorf("Replay(%q) = %v, want an error wrapping ErrNotHeld", after, err)
	}
	if calls != 0 {
		t.Errorf("Replay(%q) called fn %d times, want 0", after, calls)
	}
}

// eventually polls cond every few milliseconds until it returns "" or Timeout
// passes; then it fails t with cond's last complaint.
func eventually(t *testing.T, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", Timeout, msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watcher records what one Watch call sees.
type watcher struct {
	mu      sync.Mutex
	got     []herald.Update
	batches int
	active  atomic.Int32 // fn calls running now
	overlap atomic.Bool  // fn was called while another call was running
	done    chan error
	cancel  context.CancelFunc
}

// startWatcher starts a Watch and waits until it is registered: Watch's
// first call to fn, with an empty batch.
func startWatcher(t *testing.T, st herald.Store) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{done: make(chan error, 1), cancel: cancel}
	registered := make(chan int, 1)
	first := true
	go func() {
		w.done <- st.Watch(ctx, func(b []herald.Update) {
			if w.active.Add(1) != 1 {
				w.overlap.Store(true)
			}
			defer w.active.Add(-1)
			if first {
				first = false
				registered <- len(b)
				return
			}
			w.mu.Lock()
			w.batches++
			w.got = append(w.got, b...)
			w.mu.Unlock()
		})
	}()
	select {
	case n := <-registered:
		if n != 0 {
			t.Errorf("Watch's first batch holds %d updates; it must be empty (the registration signal)", n)
		}
	case err := <-w.done:
		t.Fatalf("Watch returned %v before registering", err)
	case <-time.After(Timeout):
		t.Fatalf("Watch did not signal its registration (a first, empty batch) within %v", Timeout)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(Timeout):
			t.Errorf("Watch did not return %v after its context was cancelled", Timeout)
		}
	})
	return w
}

func (w *watcher) snapshot() []herald.Update {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// syncWatchers appends a probe update and waits until every watcher (each
// registered by startWatcher) has seen it. It returns the probe: checks of
// what a watcher saw start there.
func syncWatchers(t *testing.T, st herald.Store, ws ...*watcher) herald.Update {
	t.Helper()
	probe := mustAppend(t, st, upd("sync", "probe"))
	eventually(t, func() string {
		for i, w := range ws {
			if w.from(probe.ID) == nil {
				return fmt.Sprintf("watcher %d, registered before the append, has not seen the probe update", i)
			}
		}
		return ""
	})
	return probe
}

// from returns what w saw from the update with id on (nil when it saw none).
func (w *watcher) from(id string) []herald.Update {
	got := w.snapshot()
	i := slices.IndexFunc(got, func(u herald.Update) bool { return u.ID == id })
	if i < 0 {
		return nil
	}
	return got[i:]
}

// waitSeen waits until w has seen want (from want[0] on) and then checks that
// it saw exactly want, in order, once each, and that fn calls never overlapped.
func (w *watcher) waitSeen(t *testing.T, name string, want []herald.Update) {
	t.Helper()
	eventually(t, func() string {
		if got := w.from(want[0].ID); len(got) < len(want) {
			return fmt.Sprintf("watcher %s saw %d of %d updates", name, len(got), len(want))
		}
		return ""
	})
	time.Sleep(10 * time.Millisecond) // give a duplicate a chance to show up
	checkUpdates(t, "watcher "+name, w.from(want[0].ID), want)
	if w.overlap.Load() {
		t.Errorf("watcher %s: fn was called concurrently with itself; Watch must call it from a single goroutine", name)
	}
}

// Watcher records what one Watch call delivers, for a backend's own tests
// beyond this suite (faults, several nodes on one log).
type Watcher struct{ w *watcher }

// StartWatcher starts a Watch on st that lasts until t ends, and returns once
// it is registered (Watch's first, empty batch).
func StartWatcher(t *testing.T, st herald.Store) *Watcher {
	t.Helper()
	return &Watcher{startWatcher(t, st)}
}

// IDs returns the ids of the updates delivered so far, in order.
func (w *Watcher) IDs() []string {
	got := w.w.snapshot()
	ids := make([]string, len(got))
	for i, u := range got {
		ids[i] = u.ID
	}
	return ids
}

// WaitFor waits (up to Timeout) until w has delivered the updates with the
// ids of want, from want[0] on, then checks that from want[0] on it delivered
// exactly those, in order, once each, and that fn calls never overlapped.
func (w *Watcher) WaitFor(t *testing.T, name string, want []string) {
	t.Helper()
	from := func() []string {
		ids := w.IDs()
		if i := slices.Index(ids, want[0]); i >= 0 {
			return ids[i:]
		}
		return nil
	}
	eventually(t, func() string {
		if got := from(); len(got) < len(want) {
			return fmt.Sprintf("watcher %s delivered %d of %d updates", name, len(got), len(want))
		}
		return ""
	})
	time.Sleep(20 * time.Millisecond) // give a duplicate a chance to show up
	if got := from(); !slices.Equal(got, want) {
		t.Errorf("watcher %s delivered %q,\nwant %q", name, got, want)
	}
	if w.w.overlap.Load() {
		t.Errorf("watcher %s: fn was called concurrently with itself; Watch must call it from a single goroutine", name)
	}
}
