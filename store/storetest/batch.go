package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/herald-sse/herald"
)

// batchOf returns n valid updates with data "<prefix>-<i>"; every k-th (k >
// 0) has the publisher id "<prefix>-id-<i>".
func batchOf(prefix string, n, k int) []herald.Update {
	us := make([]herald.Update, n)
	for i := range us {
		us[i] = upd(prefix, fmt.Sprintf("%s-%d", prefix, i))
		if k > 0 && i%k == k-1 {
			us[i].ID = fmt.Sprintf("%s-id-%d", prefix, i)
		}
	}
	return us
}

func mustAppendBatch(t *testing.T, st herald.Store, us []herald.Update) []herald.Update {
	t.Helper()
	got, err := st.AppendBatch(t.Context(), us)
	if err != nil {
		t.Fatalf("AppendBatch of %d updates: %v", len(us), err)
	}
	checkBatchStored(t, us, got)
	return got
}

// checkBatchStored fails t unless got is us as stored: same length and
// order, consecutive Seqs, the publishers' ids kept and the others
// generated, one instance, Times set and never going back.
func checkBatchStored(t *testing.T, us, got []herald.Update) {
	t.Helper()
	if len(got) != len(us) {
		t.Fatalf("AppendBatch of %d updates returned %d", len(us), len(got))
	}
	var instance string
	for i, u := range got {
		want := us[i]
		if want.ID == "" {
			in, seq, ok := herald.ParseID(u.ID)
			if !ok || seq != u.Seq || (instance != "" && in != instance) {
				t.Fatalf("batch update %d: ID %q, want herald.FormatID(%q, %d)", i, u.ID, instance, u.Seq)
			}
			instance = in
			want.ID = u.ID
		}
		want.Seq, want.Time = u.Seq, u.Time
		if d := sameUpdate(u, want); d != "" {
			t.Fatalf("batch update %d as stored: %s", i, d)
		}
		if u.Time.IsZero() {
			t.Fatalf("batch update %d: no Time", i)
		}
		if i > 0 && (u.Seq != got[i-1].Seq+1 || u.Time.Before(got[i-1].Time)) {
			t.Fatalf("batch update %d: Seq %d Time %v after Seq %d Time %v; want consecutive Seqs, Times never going back", i, u.Seq, u.Time, got[i-1].Seq, got[i-1].Time)
		}
	}
}

// checkBatchRefused fails t unless err wraps want and is a *BatchError at
// index (index < 0: no BatchError required).
func checkBatchRefused(t *testing.T, what string, got []herald.Update, err, want error, index int) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: AppendBatch = %d updates, %v; want an error wrapping %v", what, len(got), err, want)
		return
	}
	var be *herald.BatchError
	if index >= 0 && (!errors.As(err, &be) || be.Index != index) {
		t.Errorf("%s: AppendBatch = %v; want a *herald.BatchError naming update %d", what, err, index)
	}
	if got != nil {
		t.Errorf("%s: AppendBatch returned %d updates with its error", what, len(got))
	}
}

// testBatchOrder: AppendBatch stores a batch in order with consecutive
// Seqs after what was there, returns it as stored, and Replay and Lookup
// find it; the caller's slice is left alone.
func (s *suite) testBatchOrder(t *testing.T) {
	st := s.store(t, herald.Retention{})
	before := mustAppend(t, st, upd("batch", "before"))
	in := batchOf("batch", 10, 3)
	saved := slices.Clone(in)
	got := mustAppendBatch(t, st, in)
	if got[0].Seq <= before.Seq {
		t.Fatalf("batch starts at Seq %d after %d, want increasing", got[0].Seq, before.Seq)
	}
	for i := range in {
		if d := sameUpdate(in[i], saved[i]); d != "" {
			t.Fatalf("AppendBatch modified the caller's update %d: %s", i, d)
		}
	}
	checkUpdates(t, "Replay(EarliestID)", mustReplay(t, st, herald.EarliestID), append([]herald.Update{before}, got...))
	checkUpdates(t, "Replay(before)", mustReplay(t, st, before.ID), got)
	checkUpdates(t, "Replay(batch update 4)", mustReplay(t, st, got[4].ID), got[5:])
	for _, u := range got {
		if d := sameUpdate(mustLookup(t, st, u.ID), u); d != "" {
			t.Errorf("Lookup(%q): %s", u.ID, d)
		}
	}
	one := mustAppendBatch(t, st, batchOf("one", 1, 1))
	after := mustAppend(t, st, upd("batch", "after"))
	if one[0].Seq <= got[9].Seq || after.Seq <= one[0].Seq {
		t.Fatalf("Seqs %d, %d after the batch's last %d, want increasing", one[0].Seq, after.Seq, got[9].Seq)
	}
	if got, err := st.AppendBatch(t.Context(), nil); err != nil || len(got) != 0 {
		t.Fatalf("AppendBatch of nothing = %v, %v; want nothing, nil", got, err)
	}
	checkUpdates(t, "Replay(after)", mustReplay(t, st, after.ID), nil)
}

// testBatchRefused: a batch with an invalid update, a held id, an id twice,
// or too many updates is refused whole, naming the update at fault, and
// nothing of it is stored: its other ids stay free.
func (s *suite) testBatchRefused(t *testing.T) {
	st := s.store(t, herald.Retention{})
	held := upd("refused", "held")
	held.ID = "held-id"
	held = mustAppend(t, st, held)

	invalid := batchOf("invalid", 5, 2)
	invalid[3].Topics = nil
	got, err := st.AppendBatch(t.Context(), invalid)
	checkBatchRefused(t, "an invalid update 3", got, err, herald.ErrInvalid, 3)

	conflict := batchOf("conflict", 5, 2)
	conflict[2].ID = "held-id"
	got, err = st.AppendBatch(t.Context(), conflict)
	checkBatchRefused(t, "update 2 with a held id", got, err, herald.ErrConflict, 2)

	twice := batchOf("twice", 6, 2)
	twice[4].ID = twice[1].ID
	got, err = st.AppendBatch(t.Context(), twice)
	checkBatchRefused(t, "update 4 with update 1's id", got, err, herald.ErrConflict, 4)

	long := make([]herald.Update, herald.MaxBatchLen+1)
	for i := range long {
		long[i] = upd("long", "x")
	}
	got, err = st.AppendBatch(t.Context(), long)
	checkBatchRefused(t, fmt.Sprintf("%d updates", len(long)), got, err, herald.ErrTooLarge, -1)

	checkUpdates(t, "Replay(EarliestID) after refused batches", mustReplay(t, st, herald.EarliestID), []herald.Update{held})
	// The refused batches' own ids were never held.
	for _, id := range []string{invalid[1].ID, conflict[1].ID, conflict[3].ID, twice[1].ID, twice[3].ID} {
		checkLookupNotHeld(t, st, id)
	}
	conflict[2].ID = ""
	ok := mustAppendBatch(t, st, conflict)
	checkUpdates(t, "Replay(held)", mustReplay(t, st, held.ID), ok)
}

// testBatchCancelled: AppendBatch with a done context stores the whole
// batch or none of it.
func (s *suite) testBatchCancelled(t *testing.T) {
	st := s.store(t, herald.Retention{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	us := batchOf("cancel", 5, 2)
	got, err := st.AppendBatch(ctx, us)
	switch {
	case err == nil:
		checkBatchStored(t, us, got)
	case !errors.Is(err, context.Canceled):
		t.Errorf("AppendBatch with a cancelled context = %v, want nil or context.Canceled", err)
	}
	if n := len(mustReplay(t, st, herald.EarliestID)); n != 0 && n != len(us) {
		t.Fatalf("after AppendBatch with a cancelled context the store holds %d updates, want 0 or %d", n, len(us))
	}
}

// testBatchConcurrent: batches appended concurrently with single updates
// each keep consecutive Seqs, and watchers get every update once, in Seq
// order, each batch in one piece.
func (s *suite) testBatchConcurrent(t *testing.T) {
	st := s.store(t, herald.Retention{})
	ws := []*watcher{startWatcher(t, st), startWatcher(t, st)}
	probe := syncWatchers(t, st, ws...)
	batches, singles := AppendBatchesFromNodes(t, []herald.Store{st}, 6, 8, 10)
	all := append(slices.Concat(batches...), singles...)
	slices.SortFunc(all, func(a, b herald.Update) int { return cmp.Compare(a.Seq, b.Seq) })
	want := append([]herald.Update{probe}, all...)
	for i, w := range ws {
		w.waitSeen(t, fmt.Sprint(i), want)
	}
	checkUpdates(t, "Replay(probe)", mustReplay(t, st, probe.ID), all)
}

// testBatchConflictConcurrent: of concurrent batches sharing an id, exactly
// one is stored, whole; the others are refused, naming that update.
func (s *suite) testBatchConflictConcurrent(t *testing.T) {
	st := s.store(t, herald.Retention{})
	var won []herald.Update
	for round := range 3 {
		won = append(won, RaceAppendBatch(t, []herald.Store{st}, fmt.Sprintf("race-%d", round), 6)...)
	}
	checkUpdates(t, "Replay(EarliestID) after the races", mustReplay(t, st, herald.EarliestID), won)
}

// testBatchRetention: retention trims a batch like any updates, oldest
// first, and its trimmed ids are free again, for a batch too.
func (s *suite) testBatchRetention(t *testing.T) {
	st := s.store(t, herald.Retention{MaxCount: 5})
	us := mustAppendBatch(t, st, batchOf("ret", 8, 2))
	eventually(t, func() string {
		if n := heldSuffix(t, st, us); n != 5 {
			return fmt.Sprintf("store holds %d updates with MaxCount 5", n)
		}
		return ""
	})
	checkLookupNotHeld(t, st, us[1].ID)
	checkNotHeld(t, st, us[1].ID)
	again := batchOf("again", 2, 0)
	again[0].ID = us[1].ID // trimmed: free
	mustAppendBatch(t, st, again)
	again[0].ID = us[7].ID // held
	got, err := st.AppendBatch(t.Context(), again)
	checkBatchRefused(t, "an id the store still holds", got, err, herald.ErrConflict, 0)
}

// RaceAppendBatch has perNode goroutines on each of nodes append, all at
// once, a batch of three updates whose middle one has the id id (the others
// have ids of their own), and checks that exactly one batch is stored and
// every other one is refused with ErrConflict naming update 1. It returns
// the batch that won, as stored.
func RaceAppendBatch(t *testing.T, nodes []herald.Store, id string, perNode int) []herald.Update {
	t.Helper()
	var (
		mu      sync.Mutex
		won     [][]herald.Update
		wg      sync.WaitGroup
		start   = make(chan struct{})
		refused atomic.Int32
	)
	for k, st := range nodes {
		for g := range perNode {
			wg.Go(func() {
				us := batchOf(fmt.Sprintf("%s-node%d-%d", id, k, g), 3, 1)
				us[1].ID = id
				<-start
				got, err := st.AppendBatch(context.Background(), us)
				var be *herald.BatchError
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, got)
					mu.Unlock()
				case errors.Is(err, herald.ErrConflict) && errors.As(err, &be) && be.Index == 1:
					refused.Add(1)
				default:
					t.Errorf("AppendBatch with id %q at 1 racing others = %v, want nil or ErrConflict naming update 1", id, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(won) != 1 || int(refused.Load()) != len(nodes)*perNode-1 {
		t.Fatalf("%d concurrent batches with id %q: %d stored, %d refused with ErrConflict; want exactly one stored",
			len(nodes)*perNode, id, len(won), refused.Load())
	}
	return won[0]
}

// AppendBatchesFromNodes has, on each of nodes at once, publishers
// goroutines append perPublisher batches of size updates each (every 4th
// with a publisher id) and as many goroutines append size single updates
// each, and returns what was acknowledged: the batches, and the single
// updates. It fails t unless every batch came back with consecutive Seqs.
func AppendBatchesFromNodes(t *testing.T, nodes []herald.Store, publishers, perPublisher, size int) (batches [][]herald.Update, singles []herald.Update) {
	t.Helper()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for k, st := range nodes {
		for g := range publishers {
			wg.Go(func() {
				for i := range perPublisher {
					us := batchOf(fmt.Sprintf("b%d-%d-%d", k, g, i), size, 4)
					got, err := st.AppendBatch(context.Background(), us)
					if err != nil {
						t.Errorf("AppendBatch: %v", err)
						return
					}
					for j := 1; j < len(got); j++ {
						if got[j].Seq != got[j-1].Seq+1 {
							t.Errorf("a batch got Seqs %v, want consecutive", seqsOf(got))
							return
						}
					}
					mu.Lock()
					batches = append(batches, got)
					mu.Unlock()
				}
			})
			wg.Go(func() {
				for i := range size {
					got, err := st.Append(context.Background(), upd("single", fmt.Sprintf("s%d-%d-%d", k, g, i)))
					if err != nil {
						t.Errorf("Append: %v", err)
						return
					}
					mu.Lock()
					singles = append(singles, got)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return batches, singles
}
