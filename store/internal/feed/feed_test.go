package feed_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/internal/feed"
)

func batch(seqs ...uint64) []herald.Update {
	b := make([]herald.Update, len(seqs))
	for i, s := range seqs {
		b[i] = herald.Update{Seq: s}
	}
	return b
}

// watcher runs Watch in a goroutine and records what it sees after its
// first, empty batch (the registration signal).
type watcher struct {
	registered bool
	seqs       []uint64
	batches    int
	err        error
	done       bool
}

func startWatcher(f *feed.Feed, ctx context.Context) *watcher {
	w := &watcher{}
	go func() {
		w.err = f.Watch(ctx, func(b []herald.Update) {
			if !w.registered {
				if len(b) != 0 {
					panic("first batch is not empty")
				}
				w.registered = true
				return
			}
			w.batches++
			for _, u := range b {
				w.seqs = append(w.seqs, u.Seq)
			}
		})
		w.done = true
	}()
	return w
}

func TestEveryWatcherSeesEveryBatchInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := feed.New()
		f.Publish(batch(1)) // before any watcher: nobody sees it
		w1 := startWatcher(f, t.Context())
		w2 := startWatcher(f, t.Context())
		synctest.Wait() // both are registered and blocked
		f.Publish(batch(2, 3))
		f.Publish(nil) // ignored
		f.Publish(batch(4))
		synctest.Wait()
		w3 := startWatcher(f, t.Context()) // joins late
		synctest.Wait()
		f.Publish(batch(5))
		f.Close()
		f.Publish(batch(6)) // after Close: dropped
		synctest.Wait()
		for i, tc := range []struct {
			w       *watcher
			want    []uint64
			batches int
		}{{w1, []uint64{2, 3, 4, 5}, 3}, {w2, []uint64{2, 3, 4, 5}, 3}, {w3, []uint64{5}, 1}} {
			if !tc.w.registered || !tc.w.done || tc.w.err != nil {
				t.Errorf("watcher %d: registered=%v done=%v err=%v, want registered and Watch returned nil after Close", i, tc.w.registered, tc.w.done, tc.w.err)
			}
			// Batches a watcher fell behind on may be joined, never split.
			if !slices.Equal(tc.w.seqs, tc.want) || tc.w.batches < 1 || tc.w.batches > tc.batches {
				t.Errorf("watcher %d saw %v in %d batches, want %v in 1 to %d", i, tc.w.seqs, tc.w.batches, tc.want, tc.batches)
			}
		}
		if err := f.Watch(t.Context(), func([]herald.Update) { t.Error("fn called on a closed feed") }); err != nil {
			t.Fatalf("Watch on closed feed = %v, want nil", err)
		}
	})
}

func TestCloseDeliversPublishedBatchesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := feed.New()
		release := make(chan struct{})
		var seqs []uint64
		done := make(chan error)
		go func() {
			done <- f.Watch(t.Context(), func(b []herald.Update) {
				if len(b) == 0 {
					return // registered
				}
				<-release // a slow watcher: the rest is published and closed meanwhile
				for _, u := range b {
					seqs = append(seqs, u.Seq)
				}
			})
		}()
		synctest.Wait()
		f.Publish(batch(1))
		f.Publish(batch(2))
		f.Publish(batch(3))
		f.Close()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if want := []uint64{1, 2, 3}; !slices.Equal(seqs, want) {
			t.Fatalf("saw %v, want %v", seqs, want)
		}
	})
}

func TestWatchSignalsRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := feed.New()
		w := startWatcher(f, t.Context())
		synctest.Wait()
		if !w.registered {
			t.Fatal("Watch did not call fn with an empty batch once registered")
		}
		f.Publish(batch(1))
		synctest.Wait()
		if !slices.Equal(w.seqs, []uint64{1}) {
			t.Fatalf("saw %v, want [1]", w.seqs)
		}
		f.Close()
		synctest.Wait()
		// No signal when there is nothing to watch.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, c := range []context.Context{t.Context(), ctx} {
			g := feed.New()
			if c == ctx {
				defer g.Close()
			} else {
				g.Close()
			}
			if err := g.Watch(c, func([]herald.Update) { t.Error("fn called with nothing to watch") }); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestWatchReturnsWhenContextDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := feed.New()
		defer f.Close()
		ctx, cancel := context.WithCancel(t.Context())
		w := startWatcher(f, ctx)
		synctest.Wait()
		cancel()
		synctest.Wait()
		if !w.done || w.err != nil {
			t.Fatalf("after cancel: done=%v err=%v, want returned nil", w.done, w.err)
		}
		f.Publish(batch(1))
		if len(w.seqs) != 0 {
			t.Fatalf("cancelled watcher saw %v", w.seqs)
		}
	})
}

// TestWatchGathersWhatPiledUp: a watcher that fell behind gets everything
// published meanwhile in one call, in order, without the published batches
// being modified.
func TestWatchGathersWhatPiledUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := feed.New()
		release := make(chan struct{})
		var calls [][]uint64
		b2 := batch(2)
		done := make(chan error)
		go func() {
			done <- f.Watch(t.Context(), func(b []herald.Update) {
				if len(b) == 0 {
					return // registered
				}
				var seqs []uint64
				for _, u := range b {
					seqs = append(seqs, u.Seq)
				}
				calls = append(calls, seqs)
				if len(calls) == 1 {
					<-release // fall behind while 2, 3, 4 are published
				}
			})
		}()
		synctest.Wait()
		f.Publish(batch(1))
		synctest.Wait()
		f.Publish(b2)
		f.Publish(batch(3))
		f.Publish(batch(4))
		close(release)
		synctest.Wait()
		f.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := [][]uint64{{1}, {2, 3, 4}}
		if !slices.EqualFunc(calls, want, slices.Equal) {
			t.Fatalf("calls = %v, want %v", calls, want)
		}
		if len(b2) != 1 || cap(b2) != 1 || b2[0].Seq != 2 {
			t.Fatalf("a published batch was modified: %v", b2)
		}
	})
}
