package storetest

import (
	"testing"

	"github.com/herald-sse/herald"
)

// testLookup: Lookup finds every held update by its generated id, its
// publisher's id and its position, and answers ErrNotHeld for ids it does
// not hold: unknown, not assigned yet, other instances', malformed.
func (s *suite) testLookup(t *testing.T) {
	st := s.store(t, herald.Retention{})
	us := appendN(t, st, "lookup", 9, 3) // every 3rd has a publisher id
	instance := instanceOf(t, us[0])
	for _, u := range us {
		if d := sameUpdate(mustLookup(t, st, u.ID), u); d != "" {
			t.Errorf("Lookup(%q): %s", u.ID, d)
		}
		pos := herald.FormatID(instance, u.Seq)
		if d := sameUpdate(mustLookup(t, st, pos), u); d != "" {
			t.Errorf("Lookup(position %q of %q): %s", pos, u.ID, d)
		}
	}
	last := us[len(us)-1].Seq
	for _, id := range []string{
		"",
		herald.EarliestID,
		"never-published",
		"lookup-0", // a data value, not an id
		"LOOKUP-ID-2",
		herald.FormatID(instance, last+1),
		herald.FormatID(instance, last+1000),
		herald.FormatID(instance, 0),
		herald.FormatID("storetest-other", us[2].Seq),
		herald.FormatID(instance+"x", us[2].Seq),
		"urn:herald:" + instance,
		"urn:herald:" + instance + ":",
		"urn:herald:" + instance + ":abc",
	} {
		checkLookupNotHeld(t, st, id)
	}
}
