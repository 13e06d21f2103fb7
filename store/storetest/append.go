package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

// testAppendAssigns: Seq strictly increases, Time is set, and an update with
// no ID gets FormatID(instance, Seq) with one stable instance id.
func (s *suite) testAppendAssigns(t *testing.T) {
	st := s.store(t, herald.Retention{})
	before := time.Now()
	us := appendN(t, st, "assign", 20, 0)
	after := time.Now()
	var instance string
	for i, u := range us {
		if i > 0 && u.Seq <= us[i-1].Seq {
			t.Errorf("update %d: Seq %d after %d, want strictly increasing", i, u.Seq, us[i-1].Seq)
		}
		in, seq, ok := herald.ParseID(u.ID)
		if !ok || seq != u.Seq {
			t.Errorf("update %d: ID %q, want herald.FormatID(instance, %d)", i, u.ID, u.Seq)
		}
		if i == 0 {
			instance = in
		} else if in != instance {
			t.Errorf("update %d: ID %q has instance %q, want the stable %q", i, u.ID, in, instance)
		}
		if u.Time.Before(before.Add(-time.Minute)) || u.Time.After(after.Add(time.Minute)) {
			t.Errorf("update %d: Time %v, want about now (%v)", i, u.Time, before)
		}
		if want := fmt.Sprintf("assign-%d", i); u.Data != want || len(u.Topics) != 1 || u.Topics[0] != "urn:storetest:assign" {
			t.Errorf("update %d: Data %q Topics %q, want %q and the topic given", i, u.Data, u.Topics, want)
		}
	}

	// Seq and Time given by the caller are ignored.
	u := upd("assign", "ignored")
	u.Seq = 1 << 62
	u.Time = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	got := mustAppend(t, st, u)
	last := us[len(us)-1]
	if got.Seq <= last.Seq || got.Seq == u.Seq {
		t.Errorf("Append with Seq %d set: stored Seq %d, want the store's next Seq after %d", u.Seq, got.Seq, last.Seq)
	}
	if got.Time.Year() == 2000 {
		t.Errorf("Append with Time set: stored Time %v, want the store's own", got.Time)
	}
	next := mustAppend(t, st, upd("assign", "next"))
	if next.Seq <= got.Seq {
		t.Errorf("Seq %d after %d, want strictly increasing", next.Seq, got.Seq)
	}
	checkUpdates(t, "Replay(EarliestID)", mustReplay(t, st, herald.EarliestID), append(us, got, next))
}

// testAppendKeepsPublisherID: an ID chosen by the publisher is kept and can
// be replayed after.
func (s *suite) testAppendKeepsPublisherID(t *testing.T) {
	st := s.store(t, herald.Retention{})
	a := upd("pubid", "a")
	a.ID = "publisher-chosen-1"
	got := mustAppend(t, st, a)
	if got.ID != a.ID || got.Time.IsZero() {
		t.Fatalf("Append returned ID %q Time %v, want ID %q and a Time", got.ID, got.Time, a.ID)
	}
	b := mustAppend(t, st, upd("pubid", "b"))
	checkUpdates(t, "Replay(publisher id)", mustReplay(t, st, a.ID), []herald.Update{b})
	checkUpdates(t, "Replay(EarliestID)", mustReplay(t, st, herald.EarliestID), []herald.Update{got, b})
}

// testAppendRoundTrip: every field comes back from Replay exactly as stored.
func (s *suite) testAppendRoundTrip(t *testing.T) {
	st := s.store(t, herald.Retention{})
	big := strings.Repeat("0123456789abcdef", 300<<10/16) // 300 KiB
	in := []herald.Update{
		{Topics: []string{"https://example.com/books/1", "urn:alt:é", "*"}, Data: "line1\nline2\r\nline3\rend", Type: "book.updated", Retry: 2500 * time.Millisecond},
		{Topics: []string{"t"}, Private: true, ID: "id-ünïcode-1", Data: "binary \x00\xff\xfe bytes"},
		{Topics: []string{"t"}},
		{Topics: []string{"big"}, Data: big, Type: "big"},
		{Topics: []string{strings.Repeat("t", herald.MaxTopicLength)}, ID: strings.Repeat("i", herald.MaxIDLength), Type: strings.Repeat("y", herald.MaxTypeLength), Data: "max"},
	}
	var stored []herald.Update
	for _, u := range in {
		got := mustAppend(t, st, u)
		want := u
		if want.ID == "" {
			want.ID = got.ID
		}
		want.Seq, want.Time = got.Seq, got.Time
		if d := sameUpdate(got, want); d != "" {
			t.Errorf("Append returned %s", d)
		}
		stored = append(stored, got)
	}
	checkUpdates(t, "Replay(EarliestID)", mustReplay(t, st, herald.EarliestID), stored)
}

// testAppendInvalid: an invalid update is refused with ErrInvalid and not
// stored.
func (s *suite) testAppendInvalid(t *testing.T) {
	st := s.store(t, herald.Retention{})
	for _, u := range []herald.Update{
		{},
		{Topics: []string{""}},
		{Topics: []string{"t"}, ID: "bad\nid"},
		{Topics: []string{"t"}, ID: herald.FormatID("forged", 1)},
		{Topics: []string{"t"}, ID: herald.EarliestID},
		{Topics: []string{"t"}, Type: "a\rb"},
		{Topics: []string{"t"}, Retry: -time.Second},
	} {
		if got, err := st.Append(t.Context(), u); !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("Append(%+v) = %+v, %v; want an error wrapping ErrInvalid", u, got, err)
		}
	}
	if got := mustReplay(t, st, herald.EarliestID); len(got) != 0 {
		t.Errorf("invalid updates were stored: %v", idsOf(got))
	}
}

// testAppendCancelled: Append with a done context either stores the update
// or returns the context's error; the store keeps working.
func (s *suite) testAppendCancelled(t *testing.T) {
	st := s.store(t, herald.Retention{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, err := st.Append(ctx, upd("cancel", "maybe"))
	switch {
	case err == nil && got.Seq == 0 && got.ID == "":
		t.Errorf("Append with cancelled context returned nil error but no stored update: %+v", got)
	case err != nil && !errors.Is(err, context.Canceled):
		t.Errorf("Append with cancelled context = %v, want nil or context.Canceled", err)
	}
	after := mustAppend(t, st, upd("cancel", "after"))
	replayed := mustReplay(t, st, herald.EarliestID)
	if n := len(replayed); n == 0 || n > 2 || replayed[n-1].ID != after.ID {
		t.Errorf("Replay after a cancelled Append = %v, want at most the cancelled one then %q", idsOf(replayed), after.ID)
	}
}

// testAppendConflict: an update whose id is held is refused with
// ErrConflict, whatever its topics, and nothing is stored; the store goes on.
func (s *suite) testAppendConflict(t *testing.T) {
	st := s.store(t, herald.Retention{})
	a := upd("conflict", "a")
	a.ID = "dup"
	first := mustAppend(t, st, a)
	x := mustAppend(t, st, upd("conflict", "x"))
	b := a
	b.Data = "b"
	checkConflict(t, st, b)
	b.Topics = []string{"urn:storetest:elsewhere"}
	b.Private = true
	checkConflict(t, st, b)
	checkUpdates(t, "Replay(EarliestID) after refused appends", mustReplay(t, st, herald.EarliestID), []herald.Update{first, x})
	checkUpdates(t, "Replay(held id)", mustReplay(t, st, "dup"), []herald.Update{x})
	if got := mustLookup(t, st, "dup"); got.Data != "a" {
		t.Errorf("Lookup(held id) has data %q, want the first use's %q", got.Data, "a")
	}
	y := mustAppend(t, st, upd("conflict", "y"))
	if y.Seq <= x.Seq {
		t.Errorf("Seq %d after %d, want strictly increasing", y.Seq, x.Seq)
	}
	checkUpdates(t, "Replay(EarliestID)", mustReplay(t, st, herald.EarliestID), []herald.Update{first, x, y})
}

// testAppendConflictConcurrent: of concurrent appends of one id, exactly one
// succeeds and the others get ErrConflict.
func (s *suite) testAppendConflictConcurrent(t *testing.T) {
	st := s.store(t, herald.Retention{})
	var winners []herald.Update
	for round := range 5 {
		winners = append(winners, RaceAppend(t, []herald.Store{st}, fmt.Sprintf("race-%d", round), 8))
	}
	checkUpdates(t, "Replay(EarliestID) after the races", mustReplay(t, st, herald.EarliestID), winners)
}

// RaceAppend has perNode goroutines on each of nodes append an update with
// the id id (data "node<k>-<g>"), all at once, and checks that exactly one
// Append succeeds and every other one fails with ErrConflict. It returns the
// update that won.
func RaceAppend(t *testing.T, nodes []herald.Store, id string, perNode int) herald.Update {
	t.Helper()
	var (
		mu      sync.Mutex
		won     []herald.Update
		wg      sync.WaitGroup
		start   = make(chan struct{})
		refused atomic.Int32
	)
	for k, st := range nodes {
		for g := range perNode {
			wg.Go(func() {
				u := upd("race", fmt.Sprintf("node%d-%d", k, g))
				u.ID = id
				<-start
				got, err := st.Append(context.Background(), u)
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, got)
					mu.Unlock()
				case errors.Is(err, herald.ErrConflict):
					refused.Add(1)
				default:
					t.Errorf("Append(%q) racing others = %v, want nil or ErrConflict", id, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(won) != 1 || int(refused.Load()) != len(nodes)*perNode-1 {
		t.Fatalf("%d concurrent Appends of id %q: %d succeeded (%v), %d refused with ErrConflict; want exactly one to succeed",
			len(nodes)*perNode, id, len(won), idsOf(won), refused.Load())
	}
	return won[0]
}

// testLast: Last is "" and 0 for an empty store, then the newest update's
// position and Seq; the position of an update with a publisher id is not
// that id, and Replay and Lookup accept it.
func (s *suite) testLast(t *testing.T) {
	st := s.store(t, herald.Retention{})
	last := func() (string, uint64) {
		t.Helper()
		id, seq, err := st.Last(t.Context())
		if err != nil {
			t.Fatalf("Last: %v", err)
		}
		return id, seq
	}
	if id, seq := last(); id != "" || seq != 0 {
		t.Fatalf("Last on an empty store = %q, %d; want \"\", 0", id, seq)
	}
	us := appendN(t, st, "last", 3, 0)
	if id, seq := last(); id != us[2].ID || seq != us[2].Seq {
		t.Fatalf("Last = %q, %d; want %q, %d", id, seq, us[2].ID, us[2].Seq)
	}
	u := upd("last", "custom")
	u.ID = "last-custom"
	stored := mustAppend(t, st, u)
	pos := herald.FormatID(instanceOf(t, us[0]), stored.Seq)
	id, seq := last()
	if id != pos || seq != stored.Seq {
		t.Fatalf("Last after an update with the publisher id %q = %q, %d; want its position %q, %d (never the publisher's id)", u.ID, id, seq, pos, stored.Seq)
	}
	if d := sameUpdate(mustLookup(t, st, id), stored); d != "" {
		t.Errorf("Lookup(Last's position): %s", d)
	}
	checkUpdates(t, "Replay(Last's position) before anything follows", mustReplay(t, st, id), nil)
	next := mustAppend(t, st, upd("last", "next"))
	checkUpdates(t, "Replay(Last's position)", mustReplay(t, st, id), []herald.Update{next})
}
