package redis_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/redis"
	"github.com/herald-sse/herald/store/redis/redistest"
	"github.com/herald-sse/herald/store/storetest"
)

// open opens a Store on srv's stream and closes it when t ends.
func open(t *testing.T, srv *redistest.Server, stream string) *redis.Store {
	t.Helper()
	s, err := redis.Open(t.Context(), srv.URL(stream), redis.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// probe appends until c has seen one of the appended updates, so that c is
// known to be registered; it returns that update's id.
func probe(t *testing.T, s herald.Store, c *storetest.Watcher) string {
	t.Helper()
	for i := 0; ; i++ {
		u := storetest.AppendData(t, s, fmt.Sprintf("probe-%d", i))
		deadline := time.Now().Add(time.Duration(i+1) * 20 * time.Millisecond)
		for time.Now().Before(deadline) {
			if slices.Contains(c.IDs(), u.ID) {
				return u.ID
			}
			time.Sleep(2 * time.Millisecond)
		}
		if i == 50 {
			t.Fatal("the watcher never saw a probe")
		}
	}
}

// TestCrossNode: two Stores on one stream are two nodes: each one's watcher
// gets the other's appends and its own in one order, and each replays ids
// the other minted.
func TestCrossNode(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	stream := newStream(t)
	a, b := open(t, srv, stream), open(t, srv, stream)
	wa, wb := storetest.StartWatcher(t, a), storetest.StartWatcher(t, b)
	first := probe(t, a, wa)
	probe(t, a, wb)

	want := storetest.AppendFromNodes(t, []herald.Store{a, b}, 50)
	i := slices.Index(wa.IDs(), first)
	wa.WaitFor(t, "node a", want)
	wb.WaitFor(t, "node b", want)
	if i < 0 {
		t.Fatal("node a lost its probe")
	}

	if replayed, err := storetest.ReplayIDs(t, b, want[9]); err != nil || !slices.Equal(replayed, want[10:]) {
		t.Fatalf("node b Replay(id from the log) = %q, %v; want %q", replayed, err, want[10:])
	}
	if ia, _ := a.Instance(t.Context()); ia == "" {
		t.Fatal("no instance id")
	} else if ib, _ := b.Instance(t.Context()); ib != ia {
		t.Fatalf("nodes have instance ids %q and %q, want one shared id", ia, ib)
	}
}

// TestUnavailable: with Redis down, Append, Replay, Last and Healthy fail
// at once with ErrUnavailable, and Watch keeps waiting; once Redis is back,
// the watcher gets what is appended, after what it got before, once.
func TestUnavailable(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Persist: true})
	s := open(t, srv, newStream(t))
	w := storetest.StartWatcher(t, s)
	p := probe(t, s, w)
	before := storetest.AppendData(t, s, "before")
	w.WaitFor(t, "watcher", []string{p, before.ID})

	srv.Kill()
	start := time.Now()
	if _, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: "lost"}); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Append with Redis down = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d >= redis.DefaultIOTimeout {
		t.Errorf("Append with Redis down took %v, want a failure before the %v I/O timeout", d, redis.DefaultIOTimeout)
	}
	if err := s.Healthy(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Healthy with Redis down = %v, want ErrUnavailable", err)
	}
	if err := s.Replay(t.Context(), herald.EarliestID, func(herald.Update) error { return nil }); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Replay with Redis down = %v, want ErrUnavailable", err)
	}
	if _, _, err := s.Last(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Last with Redis down = %v, want ErrUnavailable", err)
	}
	time.Sleep(300 * time.Millisecond) // let the reader fail and back off a few times

	srv.Start()
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy after Redis is back = %v", err)
	}
	after := []string{before.ID}
	for i := range 5 {
		after = append(after, storetest.AppendData(t, s, fmt.Sprintf("after-%d", i)).ID)
	}
	w.WaitFor(t, "watcher", after)
	if got := w.IDs(); slices.Contains(got, "lost") {
		t.Fatalf("watcher got an update whose Append failed: %q", got)
	}
}

// TestResetWithoutPersistence: when Redis restarts empty, ids minted before
// are not held (the subscriber is told it has a gap), a new instance id is
// shared by all nodes, and both nodes' watchers get every update appended
// after the reset, once, in order.
func TestResetWithoutPersistence(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Persist: false})
	stream := newStream(t)
	a, b := open(t, srv, stream), open(t, srv, stream)
	wa, wb := storetest.StartWatcher(t, a), storetest.StartWatcher(t, b)
	probe(t, a, wa)
	probe(t, a, wb)
	old := storetest.AppendData(t, a, "old")
	pub, err := a.Append(t.Context(), herald.Update{Topics: []string{"t"}, ID: "publisher-id", Data: "old"})
	if err != nil {
		t.Fatal(err)
	}
	oldInst, _, _ := herald.ParseID(old.ID)

	srv.Kill()
	srv.Start() // empty: no persistence

	var fresh []string
	for i := range 5 {
		fresh = append(fresh, storetest.AppendData(t, a, fmt.Sprintf("fresh-%d", i)).ID)
	}
	newInst, newSeq, _ := herald.ParseID(fresh[0])
	if newInst == oldInst || newInst == "" {
		t.Fatalf("after the reset, ids have instance %q; want a new one (was %q)", newInst, oldInst)
	}
	if newSeq <= pub.Seq {
		t.Errorf("after the reset, Seq %d; want Seqs to keep increasing (was %d)", newSeq, pub.Seq)
	}
	for _, id := range []string{old.ID, pub.ID} {
		err := b.Replay(t.Context(), id, func(herald.Update) error { return nil })
		if !errors.Is(err, herald.ErrNotHeld) {
			t.Errorf("Replay(%q) after the reset = %v, want ErrNotHeld", id, err)
		}
	}
	for i := range 5 {
		fresh = append(fresh, storetest.AppendData(t, b, fmt.Sprintf("fresh-b-%d", i)).ID)
	}
	wa.WaitFor(t, "node a", fresh)
	wb.WaitFor(t, "node b", fresh)
	if replayed, err := storetest.ReplayIDs(t, b, herald.EarliestID); err != nil || !slices.Equal(replayed, fresh) {
		t.Fatalf("Replay(earliest) after the reset = %q, %v; want %q", replayed, err, fresh)
	}
}

// TestOpen: URLs are checked, and Open fails fast with ErrUnavailable when
// nothing listens.
func TestOpen(t *testing.T) {
	for _, u := range []string{"redis://127.0.0.1:1/0?bogus=1", "redis://127.0.0.1:1/x", "://"} {
		if _, err := redis.Open(t.Context(), u, redis.Options{}); !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", u, err)
		}
	}
	srv := redistest.Start(t, redistest.Options{})
	addr := srv.Addr()
	srv.Kill()
	if _, err := redis.Open(t.Context(), "redis://"+addr+"/0", redis.Options{}); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Open with nothing listening = %v, want ErrUnavailable", err)
	}
	srv.Start()
	s := open(t, srv, "")
	if s.Stream() != redis.DefaultStream {
		t.Errorf("Stream() = %q, want the default %q", s.Stream(), redis.DefaultStream)
	}
}
