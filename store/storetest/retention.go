package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

// heldSuffix replays everything and checks that what is held is a suffix of
// us ending with its newest update (retention only ever removes the oldest).
// It returns how many of us are held.
func heldSuffix(t *testing.T, st herald.Store, us []herald.Update) int {
	t.Helper()
	got := mustReplay(t, st, herald.EarliestID)
	n := len(got)
	if n > len(us) {
		t.Fatalf("Replay(EarliestID) returned %d updates, only %d were appended", n, len(us))
	}
	checkUpdates(t, "held updates (must be the newest, in order)", got, us[len(us)-n:])
	return n
}

// testRetentionCount: MaxCount keeps the newest updates; trimmed ids,
// generated or chosen by a publisher, are not held any more.
func (s *suite) testRetentionCount(t *testing.T) {
	const max = 10
	st := s.store(t, herald.Retention{MaxCount: max})
	us := appendN(t, st, "count", 25, 5)
	eventually(t, func() string {
		if n := heldSuffix(t, st, us); n != max {
			return fmt.Sprintf("store holds %d updates with MaxCount %d", n, max)
		}
		return ""
	})
	checkNotHeld(t, st, us[0].ID)
	checkNotHeld(t, st, us[4].ID) // publisher id
	checkNotHeld(t, st, us[len(us)-max-1].ID)
	first := len(us) - max
	checkUpdates(t, "Replay(oldest held)", mustReplay(t, st, us[first].ID), us[first+1:])
	checkUpdates(t, "Replay(publisher id held)", mustReplay(t, st, us[19].ID), us[20:])
	if id, seq, err := st.Last(t.Context()); err != nil || id != us[len(us)-1].ID || seq != us[len(us)-1].Seq {
		t.Errorf("Last = %q, %d, %v; want %q, %d", id, seq, err, us[len(us)-1].ID, us[len(us)-1].Seq)
	}
}

// testRetentionReusedID: trimming the first use of a reused publisher id
// keeps the id pointing at its most recent use; trimming that too makes it
// not held.
func (s *suite) testRetentionReusedID(t *testing.T) {
	st := s.store(t, herald.Retention{MaxCount: 3})
	r := upd("reuse", "r1")
	r.ID = "r"
	us := []herald.Update{mustAppend(t, st, r)}
	us = append(us, appendN(t, st, "x", 2, 0)...)
	r.Data = "r2"
	us = append(us, mustAppend(t, st, r))
	us = append(us, mustAppend(t, st, upd("x", "x3")))
	eventually(t, func() string {
		if n := heldSuffix(t, st, us); n != 3 {
			return fmt.Sprintf("store holds %d updates with MaxCount 3", n)
		}
		return ""
	})
	checkUpdates(t, `Replay("r") after its first use was trimmed`, mustReplay(t, st, "r"), us[4:])
	us = append(us, appendN(t, st, "y", 3, 0)...)
	eventually(t, func() string {
		if n := heldSuffix(t, st, us); n != 3 {
			return fmt.Sprintf("store holds %d updates with MaxCount 3", n)
		}
		return ""
	})
	checkNotHeld(t, st, "r")
}

// testRetentionAge: updates older than MaxAge (by their Time) go; younger
// ones stay; Seq keeps increasing afterwards.
func (s *suite) testRetentionAge(t *testing.T) {
	const maxAge = 250 * time.Millisecond
	st := s.store(t, herald.Retention{MaxAge: maxAge})
	us := appendN(t, st, "age", 3, 2)
	if time.Since(us[2].Time) < maxAge/2 { // only when this machine was quick enough to tell
		heldNow := mustReplay(t, st, herald.EarliestID)
		if !slices.ContainsFunc(heldNow, func(u herald.Update) bool { return u.ID == us[2].ID }) {
			t.Errorf("an update %v old was removed with MaxAge %v", time.Since(us[2].Time), maxAge)
		}
	}
	eventually(t, func() string {
		if n := heldSuffix(t, st, us); n != 0 {
			return fmt.Sprintf("store still holds %d updates older than MaxAge %v", n, maxAge)
		}
		return ""
	})
	checkNotHeld(t, st, us[2].ID)
	checkNotHeld(t, st, us[1].ID) // publisher id
	if id, seq, err := st.Last(t.Context()); err != nil || id != "" || seq != 0 {
		t.Errorf("Last with everything expired = %q, %d, %v; want \"\", 0", id, seq, err)
	}

	fresh := mustAppend(t, st, upd("age", "fresh"))
	if fresh.Seq <= us[2].Seq {
		t.Errorf("Seq %d after expired %d, want strictly increasing", fresh.Seq, us[2].Seq)
	}
	if time.Since(fresh.Time) < maxAge/2 {
		got := mustReplay(t, st, herald.EarliestID)
		if len(got) != 1 || got[0].ID != fresh.ID {
			t.Errorf("right after Append, Replay(EarliestID) = %v, want [%s]", idsOf(got), fresh.ID)
		}
	}
	eventually(t, func() string {
		if n := heldSuffix(t, st, []herald.Update{fresh}); n != 0 {
			return "the fresh update did not expire"
		}
		return ""
	})
}

// testRetentionBytes: MaxBytes bounds the encoded size kept, removing the
// oldest first.
func (s *suite) testRetentionBytes(t *testing.T) {
	const maxBytes, size = 8 << 10, 1000
	st := s.store(t, herald.Retention{MaxBytes: maxBytes})
	var us []herald.Update
	for i := range 30 {
		u := upd("bytes", fmt.Sprintf("%04d", i)+strings.Repeat("b", size-4))
		if i%3 == 0 {
			u.ID = fmt.Sprintf("bytes-id-%d", i)
		}
		us = append(us, mustAppend(t, st, u))
	}
	eventually(t, func() string {
		if n := heldSuffix(t, st, us); n < 1 || n > maxBytes/size {
			return fmt.Sprintf("store holds %d updates of %d bytes with MaxBytes %d, want 1 to %d", n, size, maxBytes, maxBytes/size)
		}
		return ""
	})
	checkNotHeld(t, st, us[0].ID)
	checkNotHeld(t, st, us[1].ID)
}
