package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/memory"
)

// pipeListener is an in-memory network (net.Pipe): inside a synctest
// bubble, its blocking reads and writes are durable, so the fake clock
// advances while the hub, the server and the client wait on each other.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// fakeHub is a hub with the mercure protocol, served over a pipeListener.
// Create it inside a synctest bubble; its cleanup stops everything it
// started.
type fakeHub struct {
	hub    *hub.Hub
	client *http.Client
}

func newFakeHub(t *testing.T, opts hub.Options) *fakeHub {
	st := memory.New(memory.Options{})
	opts.Logger = discard
	h := hub.New(st, opts)
	mh, err := mercure.New(mercure.Config{
		Hub:         h,
		Publishers:  hubtest.HMACVerifier(t, hubtest.PubKey),
		Subscribers: hubtest.HMACVerifier(t, hubtest.SubKey),
		Logger:      discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := newPipeListener()
	srv := &http.Server{Handler: mh}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	tr := &http.Transport{DialContext: ln.dial}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hubtest.WaitTimeout)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		_ = srv.Close()
		<-served
		tr.CloseIdleConnections()
		_ = st.Close()
	})
	return &fakeHub{hub: h, client: &http.Client{Transport: tr}}
}

// open subscribes over the pipe network; the stream ends with the test.
func (f *fakeHub) open(t *testing.T, query string, hdr http.Header) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://hub"+mercure.Path+"?"+query, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("subscribe: %s", resp.Status)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	return resp
}

// rawReader collects a stream's bytes as they arrive.
type rawReader struct {
	mu   sync.Mutex
	b    []byte
	err  error
	done chan struct{}
}

func readRaw(r io.Reader) *rawReader {
	rr := &rawReader{done: make(chan struct{})}
	go func() {
		defer close(rr.done)
		buf := make([]byte, 256)
		for {
			n, err := r.Read(buf)
			rr.mu.Lock()
			rr.b = append(rr.b, buf[:n]...)
			rr.err = err
			rr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return rr
}

// take returns what arrived since the last call.
func (rr *rawReader) take() []byte {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	b := rr.b
	rr.b = nil
	return b
}

// TestHeartbeatTiming: on a fake clock, no stream stays silent for longer
// than Options.Heartbeat (a proxy whose idle timeout is just above it must
// never cut the stream), and the hub does not send heartbeats much more often
// than that: a heartbeat comes more than 0.85 × Heartbeat after the last write
// (the opening, a heartbeat or an event).
func TestHeartbeatTiming(t *testing.T) {
	for _, noHijack := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoHijack=%v", noHijack), func(t *testing.T) { testHeartbeatTiming(t, noHijack) })
	}
}

func testHeartbeatTiming(t *testing.T, noHijack bool) {
	synctest.Test(t, func(t *testing.T) {
		const period = 15 * time.Second
		const step = 10 * time.Millisecond
		f := newFakeHub(t, hub.Options{Heartbeat: period, NoHijack: noHijack})
		resp := f.open(t, hubtest.Topics("t"), nil)
		raw := readRaw(resp.Body)
		start := time.Now()
		last := start
		var gaps []time.Duration // before each heartbeat
		var all []time.Duration  // before each write
		for now := start; now.Sub(start) < 10*period; now = time.Now() {
			// One event, mid-way: it counts as a write and resets the
			// silence.
			if now.Sub(start) >= 4*period+period/3 && now.Sub(start) < 4*period+period/3+step {
				if _, err := f.hub.Publish(context.Background(), update("t", "event")); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(step)
			synctest.Wait()
			if b := raw.take(); len(b) != 0 {
				if !bytes.Equal(b, []byte(":\n")) && !bytes.Contains(b, []byte("data: event\n\n")) {
					t.Fatalf("at %v: %q, want a heartbeat or the event", time.Since(start), b)
				}
				if bytes.Equal(b, []byte(":\n")) {
					gaps = append(gaps, time.Since(last))
				}
				all = append(all, time.Since(last))
				last = time.Now()
			}
			if silent := time.Since(last); silent > period {
				t.Fatalf("at %v, the stream has been silent for %v, longer than the heartbeat of %v (gaps so far %v)", time.Since(start), silent, period, all)
			}
		}
		if len(gaps) < 10 {
			t.Fatalf("gaps between writes: %v, want at least 10 in %v", gaps, 10*period)
		}
		for i, g := range gaps {
			if g <= period*85/100 {
				t.Errorf("gap %d between writes: %v, want more than %v: heartbeats too frequent (gaps %v)", i, g, period*85/100, gaps)
			}
		}
	})
}

// TestHeartbeatDisabledTiming: a negative Options.Heartbeat sends none, on
// a fake clock, however long the stream stays idle.
func TestHeartbeatDisabledTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeHub(t, hub.Options{Heartbeat: -1})
		raw := readRaw(f.open(t, hubtest.Topics("t"), nil).Body)
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		if b := raw.take(); len(b) != 0 {
			t.Fatalf("a day without events: %q, want nothing", b)
		}
	})
}

// TestTokenExpiryTiming: on a fake clock, a stream opened with a token that
// expires in an hour stays open for that hour and is closed when it ends.
func TestTokenExpiryTiming(t *testing.T) {
	for _, noHijack := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoHijack=%v", noHijack), func(t *testing.T) { testTokenExpiryTiming(t, noHijack) })
	}
}

func testTokenExpiryTiming(t *testing.T, noHijack bool) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeHub(t, hub.Options{Heartbeat: -1, NoHijack: noHijack})
		tok := hubtest.Sign(t, hubtest.SubKey, auth.Grant{Subscribe: []string{"t"}, TTL: time.Hour})
		raw := readRaw(f.open(t, hubtest.Topics("t"), hubtest.Bearer(tok)).Body)

		// The fake clock starts on a whole second: exp is exactly an hour
		// away.
		time.Sleep(time.Hour - time.Millisecond)
		synctest.Wait()
		select {
		case <-raw.done:
			t.Fatalf("the stream ended before its token expired: %v", raw.err)
		default:
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		select {
		case <-raw.done:
		default:
			t.Fatal("the stream is still open after its token expired")
		}
	})
}
