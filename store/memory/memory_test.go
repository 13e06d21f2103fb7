package memory_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, r herald.Retention) herald.Store {
		return memory.New(memory.Options{Retention: r})
	})
}

func TestInstanceOption(t *testing.T) {
	s := memory.New(memory.Options{Instance: "node1"})
	defer s.Close()
	u, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := herald.FormatID("node1", u.Seq); u.ID != want {
		t.Fatalf("ID = %q, want %q", u.ID, want)
	}
	// A new store (a restart) has another instance: old ids are not held.
	a, b := memory.New(memory.Options{}), memory.New(memory.Options{})
	defer a.Close()
	defer b.Close()
	if a.Instance() == b.Instance() || a.Instance() == "" {
		t.Fatalf("random instances %q and %q, want distinct and non-empty", a.Instance(), b.Instance())
	}
}

func TestNewPanicsOnColonInInstance(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New with instance \"a:b\" did not panic")
		}
	}()
	memory.New(memory.Options{Instance: "a:b"})
}

// TestZeroRetentionKeepsEverything: the zero Retention has no hidden count
// bound (the store once kept 100,000).
func TestZeroRetentionKeepsEverything(t *testing.T) {
	const n = 100_005
	s := memory.New(memory.Options{})
	defer s.Close()
	var first herald.Update
	for i := range n {
		u, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = u
		}
	}
	held := 0
	if err := s.Replay(t.Context(), herald.EarliestID, func(u herald.Update) error {
		if held == 0 && u.ID != first.ID {
			return fmt.Errorf("oldest held is %q, want the first appended, %q", u.ID, first.ID)
		}
		held++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if held != n {
		t.Fatalf("holds %d updates, want all %d", held, n)
	}
}

// A replay whose next update is trimmed while fn runs must fail with
// ErrNotHeld, never skip silently.
func TestReplayTrimmedWhileReplaying(t *testing.T) {
	s := memory.New(memory.Options{Retention: herald.Retention{MaxCount: 300}})
	defer s.Close()
	add := func(n int) {
		for range n {
			if _, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(300)
	calls := 0
	err := s.Replay(t.Context(), herald.EarliestID, func(herald.Update) error {
		calls++
		if calls == 1 {
			add(300) // everything the replay has not copied out yet is gone
		}
		return nil
	})
	if !errors.Is(err, herald.ErrNotHeld) {
		t.Fatalf("Replay = %v after %d calls, want ErrNotHeld", err, calls)
	}
	if calls >= 300 {
		t.Fatalf("fn called %d times; the test did not cross a chunk", calls)
	}
}

// Age retention on a fake clock: an update goes exactly when it is MaxAge
// old, not before.
func TestAgeRetentionFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New(memory.Options{Retention: herald.Retention{MaxAge: time.Minute}})
		defer s.Close()
		a, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		b, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30*time.Second - time.Nanosecond)
		if last, _, _ := s.Last(t.Context()); last != b.ID {
			t.Fatalf("Last = %q, want %q", last, b.ID)
		}
		if err := s.Replay(t.Context(), a.ID, func(herald.Update) error { return nil }); err != nil {
			t.Fatalf("a is 1ns short of MaxAge: Replay(a) = %v, want held", err)
		}
		time.Sleep(time.Nanosecond)
		if err := s.Replay(t.Context(), a.ID, func(herald.Update) error { return nil }); !errors.Is(err, herald.ErrNotHeld) {
			t.Fatalf("a is MaxAge old: Replay(a) = %v, want ErrNotHeld", err)
		}
		time.Sleep(30 * time.Second)
		if last, _, _ := s.Last(t.Context()); last != "" {
			t.Fatalf("Last with everything expired = %q, want \"\"", last)
		}
	})
}
