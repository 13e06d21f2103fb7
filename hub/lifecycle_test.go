package hub_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// TestHeartbeat: a stream with nothing to send gets a comment line every
// Options.Heartbeat, which EventSource ignores, on every delivery path.
func TestHeartbeat(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envConfig{mode: m, hub: hub.Options{Heartbeat: 50 * time.Millisecond}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := e.get(t, ctx, "?"+topics("t"), nil)
			defer resp.Body.Close()
			got := make(chan []byte, 1)
			go func() {
				// Read raw bytes: the decoder hides comments.
				var all []byte
				buf := make([]byte, 64)
				for len(all) < 3*len(":\n") {
					n, err := resp.Body.Read(buf)
					all = append(all, buf[:n]...)
					if err != nil {
						break
					}
				}
				got <- all
			}()
			select {
			case b := <-got:
				if !bytes.Equal(b, []byte(":\n:\n:\n")) {
					t.Errorf("an idle stream sent %q, want three heartbeat comments %q", b, ":\n")
				}
			case <-time.After(waitTimeout):
				t.Fatalf("no heartbeat within %v", waitTimeout)
			}
		})
	}
}

// TestClose: Hub.Close sends every stream a random reconnection delay within
// [ShutdownRetry/10, ShutdownRetry], then ends it cleanly, on every delivery
// path; the delays differ, so that clients do not all come back at once;
// subscriptions after that are turned away.
func TestClose(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			const shutdownRetry = 2 * time.Second
			st := memory.New(memory.Options{})
			e := newEnv(t, envConfig{mode: m, store: st, hub: hub.Options{ShutdownRetry: shutdownRetry}})
			var streams []*stream
			for range 20 {
				streams = append(streams, e.subscribe(t, topics("t"), nil))
			}
			id := e.publishData(t, "before", "t")
			for _, s := range streams {
				s.until(t, id)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := e.hub.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			retries := map[time.Duration]bool{}
			for i, s := range streams {
				evs, err := s.end(t)
				if len(evs) != 0 {
					t.Errorf("stream %d: events at shutdown: %+v", i, evs)
				}
				if !errors.Is(err, io.EOF) {
					t.Errorf("stream %d ended with %v, want a clean end (io.EOF)", i, err)
				}
				r, ok := s.dec.Retry()
				if !ok || r < shutdownRetry/10 || r > shutdownRetry {
					t.Errorf("stream %d: retry %v (%v), want within [%v, %v]", i, r, ok, shutdownRetry/10, shutdownRetry)
				}
				retries[r] = true
			}
			if len(retries) < 2 {
				t.Errorf("all %d streams got the same retry %v: no jitter", len(streams), retries)
			}
			checkComeBackLater(t, e, shutdownRetry)
			if n := e.hub.Subscribers(); n != 0 {
				t.Errorf("%d subscribers after Close", n)
			}
		})
	}
}

// TestCloseStreams: CloseStreams (for http.Server.RegisterOnShutdown) ends
// the streams without waiting, and turns new subscriptions away.
func TestCloseStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	s := e.subscribe(t, topics("t"), nil)
	e.hub.CloseStreams()
	if _, err := s.end(t); !errors.Is(err, io.EOF) {
		t.Errorf("stream ended with %v, want a clean end", err)
	}
	if _, ok := s.dec.Retry(); !ok {
		t.Error("no retry before the end")
	}
	checkComeBackLater(t, e, hub.DefaultShutdownRetry)
}

// TestCloseAbortsStuckStreams: a stream whose client does not read cannot
// be ended gracefully; Close gives up when its context ends, aborts it, and
// returns the context's error.
func TestCloseAbortsStuckStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{listener: func(l net.Listener) net.Listener { return smallBufferListener{l} }})
	client := smallBufferClient(e.client)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"?"+topics("t"), nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Fill the connection so that the hub's writes block.
	reader := e.subscribe(t, topics("t"), nil)
	big := strings.Repeat("x", 128<<10)
	var last herald.Update
	for range 16 {
		if last, err = e.hub.Publish(context.Background(), update("t", big)); err != nil {
			t.Fatal(err)
		}
	}
	reader.until(t, last.ID)

	closeCtx, closeCancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer closeCancel()
	start := time.Now()
	err = e.hub.Close(closeCtx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > waitTimeout {
		t.Errorf("Close took %v", d)
	}
	if n := e.hub.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after Close", n)
	}
}

// checkComeBackLater: a subscription to a hub that is shutting down gets no
// stream, but not an error status either, which would make an EventSource
// give up for good: a 200 event stream that holds only a reconnection delay
// within [shutdownRetry/10, shutdownRetry], and ends.
func checkComeBackLater(t *testing.T, e *env, shutdownRetry time.Duration) {
	t.Helper()
	resp, body := e.getText(t, "?"+topics("t"), nil)
	if resp.StatusCode != http.StatusOK || mediaType(resp) != "text/event-stream" {
		t.Fatalf("subscribe while shutting down: %s %s %q, want 200 text/event-stream", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	dec := sse.NewDecoder(strings.NewReader(body))
	if ev, err := dec.Decode(); err != io.EOF {
		t.Errorf("subscribe while shutting down: event %+v (%v), want none", ev, err)
	}
	if r, ok := dec.Retry(); !ok || r < shutdownRetry/10 || r > shutdownRetry {
		t.Errorf("subscribe while shutting down: retry %v (%v) in %q, want within [%v, %v]", r, ok, body, shutdownRetry/10, shutdownRetry)
	}
}
