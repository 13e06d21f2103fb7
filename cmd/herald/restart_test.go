package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
)

// TestRestartKeepsEveryAcknowledgedEvent is issue 5's restart test, end to
// end: a hub on the embedded bolt store, subscribers connected through the
// eventsource client (which reconnects with Last-Event-ID), publishing
// running, the hub stopped mid-burst (SIGTERM: graceful; SIGKILL: a crash)
// and started again on the same address and data directory. Every subscriber
// must end with every acknowledged event exactly once, in order. (After a
// SIGKILL, an update stored whose acknowledgement was lost may also arrive:
// allowed, once, in order.)
func TestRestartKeepsEveryAcknowledgedEvent(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { testRestart(t, sig) })
	}
}

func testRestart(t *testing.T, sig syscall.Signal) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	addr := freeLoopbackAddr(t)
	store := "bolt:" + t.TempDir()
	flags := []string{"--addr", addr, "--shutdown-retry", "200ms"}
	hub := startNode(t, "hub", store, flags...)
	if hub == nil {
		t.FailNow()
	}
	target := &node{name: "hub", base: "http://" + addr}

	subs := make([]*restartSub, 4)
	var wg sync.WaitGroup
	subCtx, stopSubs := context.WithCancel(ctx)
	defer func() { stopSubs(); wg.Wait() }()
	for i := range subs {
		subs[i] = &restartSub{name: fmt.Sprintf("sub%d", i)}
		wg.Go(func() { subs[i].run(subCtx, target.base) })
	}
	for _, s := range subs {
		s.waitConnected(ctx, t)
	}

	p := newPublisher(t)
	var mu sync.Mutex
	attempted := map[string]bool{}
	publish := func(n int) {
		for i := 0; i < n && ctx.Err() == nil; {
			data := fmt.Sprintf("event-%d", p.next)
			p.next++
			mu.Lock()
			attempted[data] = true
			mu.Unlock()
			id, status, err := p.publish(ctx, target, data)
			if err == nil && status == http.StatusOK {
				p.acked = append(p.acked, herald.Update{ID: id, Data: data})
				i++
			} else {
				time.Sleep(20 * time.Millisecond) // the hub is down: try again soon
			}
		}
	}

	publish(40)
	// Stop the hub in the middle of a burst of publishing.
	burst := make(chan struct{})
	go func() { defer close(burst); publish(60) }()
	time.Sleep(100 * time.Millisecond)
	if err := hub.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hub.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the hub did not exit after %v", sig)
	}
	hub = startNode(t, "hub-restarted", store, flags...)
	if hub == nil {
		t.FailNow()
	}
	<-burst
	publish(40)

	want := p.ackedInOrder(t)
	for _, s := range subs {
		s.check(ctx, t, want, attempted)
	}
}

// restartSub reads the test topic with the eventsource client, which
// reconnects by itself, sending Last-Event-ID.
type restartSub struct {
	name      string
	mu        sync.Mutex
	got       []sse.Event
	connected bool
}

func (s *restartSub) run(ctx context.Context, base string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+mercure.Path+"?topic="+url.QueryEscape(clusterTopic), nil)
	req.Header.Set("Last-Event-ID", herald.EarliestID)
	c := eventsource.Client{
		Reconnect: eventsource.Reconnect{Delay: 50 * time.Millisecond, MaxDelay: 300 * time.Millisecond},
		OnStateChange: func(sc eventsource.StateChange) {
			if sc.State == eventsource.StateOpen {
				s.mu.Lock()
				s.connected = true
				s.mu.Unlock()
			}
		},
	}
	for ev, err := range c.Events(ctx, req) {
		if err != nil {
			return
		}
		s.mu.Lock()
		s.got = append(s.got, ev)
		s.mu.Unlock()
	}
}

func (s *restartSub) waitConnected(ctx context.Context, t *testing.T) {
	t.Helper()
	for ctx.Err() == nil {
		s.mu.Lock()
		ok := s.connected
		s.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never connected", s.name)
}

// check waits until s has every acknowledged event, then checks that what it
// received is in strictly increasing store order (no duplicate), holds only
// events that were published, and misses none that was acknowledged.
func (s *restartSub) check(ctx context.Context, t *testing.T, want []herald.Update, attempted map[string]bool) {
	t.Helper()
	has := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		seen := make(map[string]bool, len(s.got))
		for _, ev := range s.got {
			seen[ev.ID] = true
		}
		for _, u := range want {
			if !seen[u.ID] {
				return false
			}
		}
		return true
	}
	for !has() && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev uint64
	for i, ev := range s.got {
		_, seq, ok := herald.ParseID(ev.ID)
		switch {
		case !ok:
			t.Errorf("%s: event #%d has id %q, not one the hub generated", s.name, i, ev.ID)
		case seq <= prev:
			t.Errorf("%s: event #%d (%s %q) is a duplicate or out of order", s.name, i, ev.ID, ev.Data)
		case !attempted[ev.Data]:
			t.Errorf("%s: event #%d (%s %q) was never published", s.name, i, ev.ID, ev.Data)
		}
		prev = seq
	}
	seen := make(map[string]bool, len(s.got))
	for _, ev := range s.got {
		seen[ev.ID] = true
	}
	missing := 0
	for _, u := range want {
		if !seen[u.ID] {
			if missing < 5 {
				t.Errorf("%s: acknowledged event %s %q never arrived", s.name, u.ID, u.Data)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d acknowledged events missing", s.name, missing, len(want))
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago (for a server that must come back on the same address).
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
