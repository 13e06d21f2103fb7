package nats_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/nats"
	"github.com/herald-sse/herald/store/nats/natstest"
	"github.com/herald-sse/herald/store/storetest"
)

// open opens a Store on srv's stream and closes it when t ends.
func open(t *testing.T, srv *natstest.Server, stream string) *nats.Store {
	t.Helper()
	s, err := nats.Open(t.Context(), srv.URL(stream), nats.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after 20s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrossNode: two Stores on one stream are two nodes: each one's watcher
// gets the other's appends and its own in one order, and each replays ids
// the other minted.
func TestCrossNode(t *testing.T) {
	srv := natstest.Start(t)
	stream := newStream()
	a, b := open(t, srv, stream), open(t, srv, stream)
	wa, wb := storetest.StartWatcher(t, a), storetest.StartWatcher(t, b)

	want := storetest.AppendFromNodes(t, []herald.Store{a, b}, 50)
	// The watchers started in Open, before any append: they see everything.
	wa.WaitFor(t, "node a", want)
	wb.WaitFor(t, "node b", want)
	if got := wa.IDs(); len(got) != len(want) {
		t.Fatalf("node a delivered %d updates, want %d", len(got), len(want))
	}
	if got, err := storetest.ReplayIDs(t, b, want[9]); err != nil || !slices.Equal(got, want[10:]) {
		t.Fatalf("node b Replay(id from node a or b) = %q, %v; want %q", got, err, want[10:])
	}
	if a.Instance() != b.Instance() || a.Instance() == "" {
		t.Fatalf("nodes have instance ids %q and %q, want one shared id", a.Instance(), b.Instance())
	}
}

// TestUnavailable: with NATS down, Append, Replay, Last and Healthy fail
// at once with ErrUnavailable, and Watch keeps waiting; once NATS is back
// (with its storage), ids still replay and the watcher gets what is
// appended, after what it got before, once.
func TestUnavailable(t *testing.T) {
	srv := natstest.Start(t)
	s := open(t, srv, newStream())
	w := storetest.StartWatcher(t, s)
	before := []string{storetest.AppendData(t, s, "before-0").ID, storetest.AppendData(t, s, "before-1").ID}
	w.WaitFor(t, "watcher", before)
	inst := s.Instance()

	srv.Shutdown()
	eventually(t, "Healthy with NATS down", func() error {
		if err := s.Healthy(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
			return fmt.Errorf("Healthy = %v, want ErrUnavailable", err)
		}
		return nil
	})
	start := time.Now()
	if _, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: "lost"}); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Append with NATS down = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d >= nats.DefaultTimeout {
		t.Errorf("Append with NATS down took %v, want a failure before the %v timeout", d, nats.DefaultTimeout)
	}
	if _, err := storetest.ReplayIDs(t, s, herald.EarliestID); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Replay with NATS down = %v, want ErrUnavailable", err)
	}
	if _, _, err := s.Last(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Last with NATS down = %v, want ErrUnavailable", err)
	}

	srv.Start()
	eventually(t, "Healthy after NATS is back", func() error { return s.Healthy(t.Context()) })
	after := []string{before[1]}
	for i := range 5 {
		after = append(after, storetest.AppendData(t, s, fmt.Sprintf("after-%d", i)).ID)
	}
	w.WaitFor(t, "watcher", after)
	if s.Instance() != inst {
		t.Errorf("instance changed from %q to %q across a restart that kept the stream", inst, s.Instance())
	}
	if got, err := storetest.ReplayIDs(t, s, before[0]); err != nil || !slices.Equal(got, after) {
		t.Errorf("Replay(id from before the restart) = %q, %v; want %q", got, err, after)
	}
}

// TestLostStorage: when the NATS server comes back without its storage, the
// stream is re-created as a new instance: ids minted before are not held
// (the subscriber is told it has a gap), and both nodes' watchers get every
// update appended afterwards, once, in order.
func TestLostStorage(t *testing.T) {
	srv := natstest.Start(t)
	stream := newStream()
	a, b := open(t, srv, stream), open(t, srv, stream)
	wa, wb := storetest.StartWatcher(t, a), storetest.StartWatcher(t, b)
	old := storetest.AppendData(t, a, "old")
	pub, err := a.Append(t.Context(), herald.Update{Topics: []string{"t"}, ID: "publisher-id", Data: "old"})
	if err != nil {
		t.Fatal(err)
	}
	wb.WaitFor(t, "node b", []string{old.ID, pub.ID})
	oldInst := a.Instance()

	srv.Shutdown()
	srv.Wipe()
	srv.Start()
	for _, s := range []*nats.Store{a, b} {
		eventually(t, "Healthy after the server lost its storage", func() error { return s.Healthy(t.Context()) })
	}

	var fresh []string
	eventually(t, "Append after the server lost its storage", func() error {
		u, err := a.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: "fresh-0"})
		if err == nil {
			fresh = append(fresh, u.ID)
		}
		return err
	})
	if inst, _, _ := herald.ParseID(fresh[0]); inst == oldInst || inst == "" {
		t.Fatalf("after the loss, ids have instance %q; want a new one (was %q)", inst, oldInst)
	}
	for _, id := range []string{old.ID, pub.ID} {
		if _, err := storetest.ReplayIDs(t, b, id); !errors.Is(err, herald.ErrNotHeld) {
			t.Errorf("Replay(%q) after the loss = %v, want ErrNotHeld", id, err)
		}
	}
	for i := range 4 {
		fresh = append(fresh, storetest.AppendData(t, a, fmt.Sprintf("fresh-a-%d", i)).ID)
		fresh = append(fresh, storetest.AppendData(t, b, fmt.Sprintf("fresh-b-%d", i)).ID)
	}
	wa.WaitFor(t, "node a", fresh)
	wb.WaitFor(t, "node b", fresh)
	if got, err := storetest.ReplayIDs(t, b, herald.EarliestID); err != nil || !slices.Equal(got, fresh) {
		t.Fatalf("Replay(earliest) after the loss = %q, %v; want %q", got, err, fresh)
	}
}

// TestOpen: URLs are checked, and Open fails fast with ErrUnavailable when
// nothing listens.
func TestOpen(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:4222", "nats://127.0.0.1:4222?bogus=1", "nats://127.0.0.1:4222?stream=a.b",
		"nats://127.0.0.1:4222?replicas=0", "nats://127.0.0.1:4222?storage=disk", "nats://127.0.0.1:4222?timeout=x",
	} {
		if _, err := nats.Open(t.Context(), u, nats.Options{}); !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", u, err)
		}
	}
	srv := natstest.Start(t)
	addr := srv.Addr()
	srv.Shutdown()
	if _, err := nats.Open(t.Context(), "nats://"+addr, nats.Options{}); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Open with nothing listening = %v, want ErrUnavailable", err)
	}
	srv.Start()
	s := open(t, srv, "")
	if s.Stream() != nats.DefaultStream {
		t.Errorf("Stream() = %q, want the default %q", s.Stream(), nats.DefaultStream)
	}
}
