package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/redis"
	"github.com/herald-sse/herald/store/redis/redistest"
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

// collector records what one Watch call delivers.
type collector struct {
	mu  sync.Mutex
	got []herald.Update
}

func watch(t *testing.T, s herald.Store) *collector {
	t.Helper()
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	registered := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		_ = s.Watch(ctx, func(b []herald.Update) {
			once.Do(func() { close(registered) }) // the first, empty batch
			c.mu.Lock()
			c.got = append(c.got, b...)
			c.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-registered:
	case <-done:
		t.Fatal("Watch returned before registering")
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not register within 10s")
	}
	return c
}

func (c *collector) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, len(c.got))
	for i, u := range c.got {
		ids[i] = u.ID
	}
	return ids
}

// waitFor waits until c has delivered want (and then a little longer, for a
// duplicate to show), and fails t unless what c delivered from want[0] on
// is exactly want.
func (c *collector) waitFor(t *testing.T, name string, want []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.ids()
		if i := slices.Index(got, want[0]); i >= 0 && len(got)-i >= len(want) {
			time.Sleep(20 * time.Millisecond)
			got = c.ids()[i:]
			if !slices.Equal(got, want) {
				t.Fatalf("%s delivered %q,\nwant %q", name, got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s delivered %q after 20s, want %q at the end", name, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendData(t *testing.T, s herald.Store, data string) herald.Update {
	t.Helper()
	u, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: data})
	if err != nil {
		t.Fatalf("Append(%q): %v", data, err)
	}
	return u
}

// probe appends until c has seen one of the appended updates, so that c is
// known to be registered; it returns that update's id.
func probe(t *testing.T, s herald.Store, c *collector) string {
	t.Helper()
	for i := 0; ; i++ {
		u := appendData(t, s, fmt.Sprintf("probe-%d", i))
		deadline := time.Now().Add(time.Duration(i+1) * 20 * time.Millisecond)
		for time.Now().Before(deadline) {
			if slices.Contains(c.ids(), u.ID) {
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
	wa, wb := watch(t, a), watch(t, b)
	first := probe(t, a, wa)
	probe(t, a, wb)

	want := []string{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[uint64]string{}
	for n, s := range []*redis.Store{a, b} {
		wg.Go(func() {
			for i := range 50 {
				u, err := s.Append(context.Background(), herald.Update{Topics: []string{"t"}, Data: fmt.Sprintf("node%d-%d", n, i)})
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				acked[u.Seq] = u.ID
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	seqs := make([]uint64, 0, len(acked))
	for seq := range acked {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		want = append(want, acked[seq])
	}
	i := slices.Index(wa.ids(), first)
	wa.waitFor(t, "node a", want)
	wb.waitFor(t, "node b", want)
	if i < 0 {
		t.Fatal("node a lost its probe")
	}

	var replayed []string
	err := b.Replay(t.Context(), want[9], func(u herald.Update) error {
		replayed = append(replayed, u.ID)
		return nil
	})
	if err != nil || !slices.Equal(replayed, want[10:]) {
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
	w := watch(t, s)
	p := probe(t, s, w)
	before := appendData(t, s, "before")
	w.waitFor(t, "watcher", []string{p, before.ID})

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
		after = append(after, appendData(t, s, fmt.Sprintf("after-%d", i)).ID)
	}
	w.waitFor(t, "watcher", after)
	if got := w.ids(); slices.Contains(got, "lost") {
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
	wa, wb := watch(t, a), watch(t, b)
	probe(t, a, wa)
	probe(t, a, wb)
	old := appendData(t, a, "old")
	pub, err := a.Append(t.Context(), herald.Update{Topics: []string{"t"}, ID: "publisher-id", Data: "old"})
	if err != nil {
		t.Fatal(err)
	}
	oldInst, _, _ := herald.ParseID(old.ID)

	srv.Kill()
	srv.Start() // empty: no persistence

	var fresh []string
	for i := range 5 {
		fresh = append(fresh, appendData(t, a, fmt.Sprintf("fresh-%d", i)).ID)
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
		fresh = append(fresh, appendData(t, b, fmt.Sprintf("fresh-b-%d", i)).ID)
	}
	wa.waitFor(t, "node a", fresh)
	wb.waitFor(t, "node b", fresh)
	var replayed []string
	if err := b.Replay(t.Context(), herald.EarliestID, func(u herald.Update) error {
		replayed = append(replayed, u.ID)
		return nil
	}); err != nil || !slices.Equal(replayed, fresh) {
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
