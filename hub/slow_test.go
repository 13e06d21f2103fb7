package hub_test

import (
	"context"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// counters is a hub.Metrics that keeps the counts and reports each stream's
// end on a channel, so that a test can wait for it.
type counters struct {
	mu                                    sync.Mutex
	added, published, delivered, replayed int
	gaps                                  int
	removed                               map[hub.CloseReason]int
	refused                               map[string]int
	ended                                 chan hub.CloseReason
}

func newCounters() *counters {
	return &counters{removed: map[hub.CloseReason]int{}, refused: map[string]int{}, ended: make(chan hub.CloseReason, 1024)}
}

func (c *counters) SubscriberAdded() { c.mu.Lock(); c.added++; c.mu.Unlock() }
func (c *counters) SubscriberRemoved(r hub.CloseReason) {
	c.mu.Lock()
	c.removed[r]++
	c.mu.Unlock()
	select {
	case c.ended <- r:
	default:
	}
}
func (c *counters) Published(n int) { c.mu.Lock(); c.published += n; c.mu.Unlock() }
func (c *counters) Delivered(n int) { c.mu.Lock(); c.delivered += n; c.mu.Unlock() }
func (c *counters) Replayed(n int)  { c.mu.Lock(); c.replayed += n; c.mu.Unlock() }
func (c *counters) HistoryGap()     { c.mu.Lock(); c.gaps++; c.mu.Unlock() }
func (c *counters) Refused(reason string) {
	c.mu.Lock()
	c.refused[reason]++
	c.mu.Unlock()
}

// smallBuffers makes the kernel buffer little of a connection's data, so
// that a subscriber that does not read blocks the hub's writes quickly.
const smallBuffer = 16 << 10

type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(smallBuffer)
	}
	return c, err
}

// smallBufferClient is a client whose connections have small receive
// buffers.
func smallBufferClient(base *http.Client) *http.Client {
	tr := base.Transport.(*http.Transport).Clone()
	d := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(smallBuffer)
		}
		return c, err
	}
	return &http.Client{Transport: tr}
}

// TestSlowSubscriberDisconnected: a subscriber that stops reading is
// disconnected once more than QueueLimit events wait for it, without
// delaying the others; when it reconnects with its Last-Event-ID, history
// gives it everything it missed, then live events follow.
func TestSlowSubscriberDisconnected(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			metrics := newCounters()
			st := memory.New(memory.Options{})
			e := hubtest.New(t, hubtest.Config{
				Mode:     m,
				Store:    st,
				Hub:      hub.Options{QueueLimit: 8, Metrics: metrics},
				Listener: func(l net.Listener) net.Listener { return smallBufferListener{l} },
			})
			slowClient := smallBufferClient(e.Client)
			defer slowClient.Transport.(*http.Transport).CloseIdleConnections()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"?"+hubtest.Topics("t"), nil)
			resp, err := slowClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("slow subscriber: %v %v", resp, err)
			}
			defer resp.Body.Close()
			fast := e.Subscribe(t, hubtest.Topics("t"), nil)

			// Publish big events until the hub gives up on the subscriber
			// that does not read; the one that reads gets each at once. An
			// HTTP/2 client buffers up to 4 MiB per stream by itself before
			// the hub's writes block, hence the bound.
			data := strings.Repeat("x", 32<<10)
			published := publishUntilSlow(t, e, metrics, fast, data, 400)

			// The slow subscriber reads what was sent before it was cut
			// off: a prefix of what was published, then the end.
			dec := sse.NewDecoder(resp.Body)
			got := readUntilEnd(t, dec)
			if len(got) >= len(published) {
				t.Fatalf("the disconnected subscriber received all %d events", len(got))
			}
			for i, id := range got {
				if id != published[i] {
					t.Fatalf("event %d: got %q, want %q", i, id, published[i])
				}
			}

			// It reconnects where it stopped and misses nothing.
			resumeFrom := dec.LastEventID()
			if resumeFrom == "" {
				resumeFrom = herald.EarliestID
			}
			again := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Last-Event-ID": {resumeFrom}})
			live, err := e.Hub.Publish(context.Background(), herald.Update{Topics: []string{"t"}, Data: "live"})
			if err != nil {
				t.Fatal(err)
			}
			rest := hubtest.IDs(again.Until(t, live.ID))
			all := append(got, rest...)
			want := append(published, live.ID)
			if len(all) != len(want) {
				t.Fatalf("before and after reconnecting: %d events, want %d", len(all), len(want))
			}
			for i := range want {
				if all[i] != want[i] {
					t.Fatalf("event %d: %q, want %q", i, all[i], want[i])
				}
			}
			metrics.mu.Lock()
			defer metrics.mu.Unlock()
			if metrics.removed[hub.ReasonSlow] != 1 {
				t.Errorf("removed for being slow: %d, want 1", metrics.removed[hub.ReasonSlow])
			}
		})
	}
}

// readUntilEnd decodes events until the stream ends, within
// hubtest.WaitTimeout, and returns their ids.
func readUntilEnd(t *testing.T, dec *sse.Decoder) []string {
	t.Helper()
	type result struct {
		ids []string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for {
			ev, err := dec.Decode()
			if err != nil {
				r.err = err
				done <- r
				return
			}
			r.ids = append(r.ids, ev.ID)
		}
	}()
	select {
	case r := <-done:
		return r.ids
	case <-time.After(hubtest.WaitTimeout):
		t.Fatalf("the stream did not end within %v", hubtest.WaitTimeout)
		return nil
	}
}

// TestWriteTimeoutDisconnects: a write to a subscriber that takes longer
// than Options.WriteTimeout ends its stream, even when its queue has room.
func TestWriteTimeoutDisconnects(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			metrics := newCounters()
			e := hubtest.New(t, hubtest.Config{
				Mode:     m,
				Hub:      hub.Options{QueueLimit: 1 << 20, QueueBytes: -1, WriteTimeout: 100 * time.Millisecond, Metrics: metrics},
				Listener: func(l net.Listener) net.Listener { return smallBufferListener{l} },
			})
			client := smallBufferClient(e.Client)
			defer client.Transport.(*http.Transport).CloseIdleConnections()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"?"+hubtest.Topics("t"), nil)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("subscribe: %v %v", resp, err)
			}
			defer resp.Body.Close()
			// More than the kernel's and an HTTP/2 client's buffers hold.
			data := strings.Repeat("x", 64<<10)
			for range 96 {
				if _, err := e.Hub.Publish(context.Background(), herald.Update{Topics: []string{"t"}, Data: data}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case r := <-metrics.ended:
				// When the hub does not hijack the connection, net/http
				// cancels the request's context as soon as a write fails
				// (HTTP/1.x) or the stream is reset on its write deadline
				// (HTTP/2), which the hub may notice first.
				if r != hub.ReasonWrite && (r != hub.ReasonClient || !(m.NoHijack || m.HTTP2)) {
					t.Errorf("the stream ended for reason %q, want %q", r, hub.ReasonWrite)
				}
			case <-time.After(hubtest.WaitTimeout):
				t.Fatalf("the stream of a client that does not read was not ended within %v (subscribers %d, removed %v)", hubtest.WaitTimeout, e.Hub.Subscribers(), metrics.removedCopy())
			}
			if infos := e.Hub.SubscriberInfos(); len(infos) != 0 {
				t.Errorf("%d subscribers left", len(infos))
			}
		})
	}
}

func (c *counters) removedCopy() map[hub.CloseReason]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.removed)
}

// publishUntilSlow publishes events of data to "t" until the hub reports a
// stream ended as slow (at most max events), checking that fast, a reader,
// gets each at once, and returns their ids. It fails t when no stream ended
// as slow, or one ended for another reason.
func publishUntilSlow(t *testing.T, e *hubtest.Env, metrics *counters, fast *hubtest.Stream, data string, max int) []string {
	t.Helper()
	var published []string
	for range max {
		u, err := e.Hub.Publish(context.Background(), herald.Update{Topics: []string{"t"}, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		published = append(published, u.ID)
		if ev := fast.Next(t); ev.ID != u.ID {
			t.Fatalf("the subscriber that reads received %q, want %q", ev.ID, u.ID)
		}
		select {
		case r := <-metrics.ended:
			if r != hub.ReasonSlow {
				t.Fatalf("a stream ended for reason %q", r)
			}
			return published
		default:
		}
	}
	// The hub may have closed the stream already, but over HTTP/2 its
	// writer, blocked by flow control, lets go of it (and the stream is
	// counted as ended) only once net/http has reset the stream: wait.
	select {
	case r := <-metrics.ended:
		if r == hub.ReasonSlow {
			return published
		}
	case <-time.After(hubtest.WaitTimeout):
	}
	t.Fatalf("the subscriber that does not read was not disconnected after %d events of %d bytes", len(published), len(data))
	return nil
}
