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
	instance := instanceOf(t, us[0])
	checkNotHeld(t, st, us[0].ID)
	checkNotHeld(t, st, us[4].ID) // publisher id
	checkNotHeld(t, st, us[len(us)-max-1].ID)
	checkNotHeld(t, st, herald.FormatID(instance, us[4].Seq))
	for _, u := range us[:len(us)-max] {
		checkLookupNotHeld(t, st, u.ID)
		checkLookupNotHeld(t, st, herald.FormatID(instance, u.Seq))
	}
	for _, u := range us[len(us)-max:] {
		if d := sameUpdate(mustLookup(t, st, u.ID), u); d != "" {
			t.Errorf("Lookup(%q) of a held update: %s", u.ID, d)
		}
	}
	first := len(us) - max
	checkUpdates(t, "Replay(oldest held)", mustReplay(t, st, us[first].ID), us[first+1:])
	checkUpdates(t, "Replay(publisher id held)", mustReplay(t, st, us[19].ID), us[20:])
	newest := us[len(us)-1]
	if id, seq, err := st.Last(t.Context()); err != nil || id != herald.FormatID(instance, newest.Seq) || seq != newest.Seq {
		t.Errorf("Last = %q, %d, %v; want %q, %d", id, seq, err, herald.FormatID(instance, newest.Seq), newest.Seq)
	}
}

// testRetentionReuseAfterTrim: an id is refused while its update is held,
// and accepted again once retention removed it; the new use is then what
// the id names.
func (s *suite) testRetentionReuseAfterTrim(t *testing.T) {
	st := s.store(t, herald.Retention{MaxCount: 3})
	r := upd("reuse", "r1")
	r.ID = "r"
	first := mustAppend(t, st, r)
	r.Data = "r2"
	checkConflict(t, st, r)
	us := append([]herald.Update{first}, appendN(t, st, "x", 3, 0)...)
	eventually(t, func() string {
		if n := heldSuffix(t, st, us); n != 3 {
			return fmt.Sprintf("store holds %d updates with MaxCount 3", n)
		}
		return ""
	})
	checkNotHeld(t, st, "r")
	checkLookupNotHeld(t, st, "r")
	second := mustAppend(t, st, r) // removed by retention: free again
	if second.Seq <= us[3].Seq || second.ID != "r" {
		t.Fatalf("Append of a trimmed id = %q Seq %d, want %q after Seq %d", second.ID, second.Seq, "r", us[3].Seq)
	}
	if d := sameUpdate(mustLookup(t, st, "r"), second); d != "" {
		t.Errorf("Lookup of the reused id: %s", d)
	}
	y := mustAppend(t, st, upd("x", "y"))
	checkUpdates(t, "Replay(reused id)", mustReplay(t, st, "r"), []herald.Update{y})
	r.Data = "r3"
	checkConflict(t, st, r)
}

// testRetentionZero: the zero Retention keeps every update appended: a
// store has no hidden bound.
func (s *suite) testRetentionZero(t *testing.T) {
	st := s.store(t, herald.Retention{})
	us := appendConcurrently(t, st, "zero", 16, 200)
	checkUpdates(t, "Replay(EarliestID) with the zero Retention", mustReplay(t, st, herald.EarliestID), us)
	if d := sameUpdate(mustLookup(t, st, us[0].ID), us[0]); d != "" {
		t.Errorf("Lookup(oldest): %s", d)
	}
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
	checkLookupNotHeld(t, st, us[1].ID)
	checkLookupNotHeld(t, st, us[2].ID)
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
