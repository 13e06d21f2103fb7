package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/store/memory"
)

// recorder records the types of the updates a store yields.
type recorder struct {
	mu    sync.Mutex
	types []string
}

// watch records what s yields until ctx is done.
func (r *recorder) watch(ctx context.Context, s herald.Store) {
	_ = s.Watch(ctx, func(batch []herald.Update) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, u := range batch {
			r.types = append(r.types, u.Type)
		}
	})
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.types)
}

func TestDemoTicksOnlyWhileSomeoneListens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New(memory.Options{})
		defer store.Close()
		h := hub.New(store, hub.Options{Heartbeat: -1, Logger: slog.New(slog.DiscardHandler)})
		defer h.Close(context.Background())
		d, err := New(Config{Hub: h, Interval: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var rec recorder
		watched := make(chan struct{})
		go func() { rec.watch(ctx, store); close(watched) }()
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := rec.get(); len(got) != 0 {
			t.Fatalf("with nobody listening the demo published %v", got)
		}

		d.streams.Add(1) // as a demo stream's OnOpen does
		time.Sleep(9*time.Second + time.Millisecond)
		synctest.Wait()
		if got := rec.get(); len(got) != 3 || got[0] != "tick" {
			t.Fatalf("after 9 s with a listener the store holds %v, want 3 ticks", got)
		}
		if got := d.Stats(); got.Events != 3 {
			t.Errorf("Stats().Events = %d, want 3", got.Events)
		}

		d.streams.Add(-1) // as OnClose does
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := rec.get(); len(got) != 3 {
			t.Fatalf("after everybody left the store holds %d updates, want still 3", len(got))
		}

		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		<-watched
	})
}

func TestDemoCountsEventsPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New(memory.Options{})
		defer store.Close()
		h := hub.New(store, hub.Options{Heartbeat: -1, Logger: slog.New(slog.DiscardHandler)})
		defer h.Close(context.Background())
		d, err := New(Config{Hub: h, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()

		time.Sleep(1500 * time.Millisecond) // mid-second: ticks at 1 s, 2 s, ...
		for range 5 {
			if _, err := h.Publish(ctx, herald.Update{Topics: []string{"elsewhere"}, Data: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second) // past the 2 s tick
		synctest.Wait()
		if got := d.Stats(); got.EventsPerSecond != 5 || got.Events != 5 {
			t.Fatalf("Stats() = %+v, want 5 events in the last second", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := d.Stats().EventsPerSecond; got != 0 {
			t.Fatalf("a quiet second later EventsPerSecond = %d, want 0", got)
		}
		if err := d.Run(ctx); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Errorf("a second Run: %v, want an error", err)
		}
		cancel()
		<-done
	})
}

func TestDemoLimiter(t *testing.T) {
	// Per client: one message every 10 s, 2 at once; everyone: one every
	// 2 s, 3 at once.
	l := newLimiter(0.1, 2, 0.5, 3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	allow := func(client string, at time.Duration) (bool, time.Duration) {
		return l.allow(client, t0.Add(at))
	}
	for i := range 2 {
		if ok, _ := allow("a", 0); !ok {
			t.Fatalf("a's message %d refused", i+1)
		}
	}
	if ok, wait := allow("a", 0); ok || wait != 10*time.Second {
		t.Fatalf("a's third message: ok %v, wait %v; want refused, wait 10s", ok, wait)
	}
	// a's refusal took nothing from the global bucket: one token is left.
	if ok, _ := allow("b", 0); !ok {
		t.Fatal("b's first message refused")
	}
	if ok, wait := allow("b", 0); ok || wait != 2*time.Second {
		t.Fatalf("b over the global limit: ok %v, wait %v; want refused, wait 2s", ok, wait)
	}
	// That refusal took nothing from b's own bucket either.
	if ok, _ := allow("b", 2*time.Second); !ok {
		t.Fatal("b's second message refused once the global bucket had refilled")
	}
	if ok, _ := allow("a", 10*time.Second); !ok {
		t.Fatal("a's bucket did not refill after 10 s")
	}

	// Clients whose bucket is full again are forgotten.
	l.sweep(t0.Add(time.Hour))
	if n := len(l.clients); n != 0 {
		t.Fatalf("after an hour the limiter remembers %d clients", n)
	}
}

func TestDemoLimiterIsBounded(t *testing.T) {
	l := newLimiter(1, 1, 1e9, 1e9)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxClients {
		l.allow("client "+strconv.Itoa(i), now)
	}
	if ok, _ := l.allow("newcomer", now); !ok {
		t.Fatal("the first newcomer over the bound was refused")
	}
	if ok, _ := l.allow("another newcomer", now); ok {
		t.Fatal("newcomers over the bound do not share one bucket")
	}
	if len(l.clients) > maxClients+1 {
		t.Fatalf("the limiter holds %d buckets, over %d+1", len(l.clients), maxClients)
	}
}

func TestDemoClientKey(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:5000", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5000", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:5000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:1", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		r := &http.Request{RemoteAddr: tc.remote}
		if got := clientKey(r); got != tc.want {
			t.Errorf("clientKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
