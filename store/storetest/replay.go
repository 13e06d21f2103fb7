package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

// testReplayEveryPosition: Replay after each held id, and after EarliestID,
// returns exactly the updates that follow, in order.
func (s *suite) testReplayEveryPosition(t *testing.T) {
	st := s.store(t, herald.Retention{})
	us := appendN(t, st, "pos", 40, 4) // every 4th has a publisher id
	checkUpdates(t, "Replay(EarliestID)", mustReplay(t, st, herald.EarliestID), us)
	for i, u := range us {
		checkUpdates(t, "Replay("+u.ID+")", mustReplay(t, st, u.ID), us[i+1:])
	}
}

// testReplayEmpty: an empty store replays nothing after EarliestID and holds
// no id.
func (s *suite) testReplayEmpty(t *testing.T) {
	st := s.store(t, herald.Retention{})
	if got := mustReplay(t, st, herald.EarliestID); len(got) != 0 {
		t.Fatalf("Replay(EarliestID) on an empty store = %v", idsOf(got))
	}
	checkNotHeld(t, st, "never-published")
	checkNotHeld(t, st, herald.FormatID("storetest-other", 1))
	checkLookupNotHeld(t, st, "never-published")
	checkLookupNotHeld(t, st, herald.FormatID("storetest-other", 1))
	checkLookupNotHeld(t, st, herald.EarliestID)
}

// testReplayNotHeld: unknown ids and ids minted by another store instance
// are answered with ErrNotHeld before fn is called.
func (s *suite) testReplayNotHeld(t *testing.T) {
	st := s.store(t, herald.Retention{})
	us := appendN(t, st, "notheld", 5, 0)
	instance, _, ok := herald.ParseID(us[0].ID)
	if !ok {
		t.Fatalf("generated ID %q is not a herald.FormatID id", us[0].ID)
	}
	last := us[len(us)-1].Seq
	for _, id := range []string{
		"never-published",
		"notheld-0", // a data value, not an id
		herald.FormatID(instance, last+1),
		herald.FormatID(instance, last+1000),
		herald.FormatID("storetest-other", 3),
		herald.FormatID("storetest-other", us[2].Seq),
		herald.FormatID(instance+"x", us[2].Seq),
		"urn:herald:" + instance,
		"urn:herald:" + instance + ":",
		"urn:herald:" + instance + ":abc",
	} {
		checkNotHeld(t, st, id)
	}
}

// testReplayPosition: Replay after the position of an update,
// FormatID(instance, Seq), resumes after it whatever its own id, the same
// as Replay after that id.
func (s *suite) testReplayPosition(t *testing.T) {
	st := s.store(t, herald.Retention{})
	us := appendN(t, st, "position", 12, 3) // every 3rd has a publisher id
	instance := instanceOf(t, us[0])
	for i, u := range us {
		pos := herald.FormatID(instance, u.Seq)
		if i%3 == 2 && pos == u.ID {
			t.Fatalf("update %d: publisher id %q equals its position", i, u.ID)
		}
		checkUpdates(t, "Replay(position "+pos+" of "+u.ID+")", mustReplay(t, st, pos), us[i+1:])
	}
}

// testReplayUpToNewest: Replay stops at the newest update held when it
// started, and Append is not blocked while Replay's fn runs. The history is
// long enough for a store that reads in chunks to need several.
func (s *suite) testReplayUpToNewest(t *testing.T) {
	st := s.store(t, herald.Retention{})
	us := appendConcurrently(t, st, "upto", 10, 150)
	var more []herald.Update
	var got []herald.Update
	err := st.Replay(t.Context(), herald.EarliestID, func(u herald.Update) error {
		if len(got) == 0 {
			// Append from another goroutine while fn runs, and wait for it.
			done := make(chan error, 1)
			go func() {
				for i := range 5 {
					m, err := st.Append(context.Background(), upd("upto", "more-"+string(rune('a'+i))))
					if err != nil {
						done <- err
						return
					}
					more = append(more, m)
				}
				done <- nil
			}()
			select {
			case err := <-done:
				if err != nil {
					return err
				}
			case <-time.After(Timeout):
				t.Fatalf("Append blocked for %v while Replay's fn was running", Timeout)
			}
		}
		got = append(got, u)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	checkUpdates(t, "Replay(EarliestID) while appending", got, us)
	checkUpdates(t, "Replay(EarliestID) afterwards", mustReplay(t, st, herald.EarliestID), append(us, more...))
}

// testReplayFnError: an error from fn stops Replay and is returned.
func (s *suite) testReplayFnError(t *testing.T) {
	st := s.store(t, herald.Retention{})
	appendN(t, st, "fnerr", 5, 0)
	stop := errors.New("storetest: stop")
	calls := 0
	err := st.Replay(t.Context(), herald.EarliestID, func(herald.Update) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("Replay = %v, want fn's error", err)
	}
	if calls != 3 {
		t.Errorf("fn was called %d times, want 3 (Replay must stop at the first error)", calls)
	}
}

// testReplayCancelled: Replay returns the context's error when it is done
// before or while replaying, and calls fn no more.
func (s *suite) testReplayCancelled(t *testing.T) {
	st := s.store(t, herald.Retention{})
	appendN(t, st, "cancel", 10, 0)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := st.Replay(ctx, herald.EarliestID, func(herald.Update) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("Replay with a cancelled context = %v after %d calls, want context.Canceled and no call", err, calls)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	calls = 0
	var once sync.Once
	err = st.Replay(ctx, herald.EarliestID, func(herald.Update) error {
		calls++
		if calls == 2 {
			once.Do(cancel)
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Errorf("Replay cancelled in its 2nd call = %v after %d calls, want context.Canceled after 2", err, calls)
	}
}
