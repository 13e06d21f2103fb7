package hub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// TestHeartbeat: a stream with nothing to send gets a comment line every
// Options.Heartbeat, which EventSource ignores, on every delivery path.
func TestHeartbeat(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m, Hub: hub.Options{Heartbeat: 50 * time.Millisecond}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := e.Get(t, ctx, "?"+hubtest.Topics("t"), nil)
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
			case <-time.After(hubtest.WaitTimeout):
				t.Fatalf("no heartbeat within %v", hubtest.WaitTimeout)
			}
		})
	}
}

// TestClose: Hub.Close sends every stream a random reconnection delay within
// [ShutdownRetry/10, ShutdownRetry], then ends it cleanly, on every delivery
// path; the delays differ, so that clients do not all come back at once;
// subscriptions after that are turned away.
func TestClose(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			const shutdownRetry = 2 * time.Second
			st := memory.New(memory.Options{})
			e := hubtest.New(t, hubtest.Config{Mode: m, Store: st, Hub: hub.Options{ShutdownRetry: shutdownRetry}})
			var streams []*hubtest.Stream
			for range 20 {
				streams = append(streams, e.Subscribe(t, hubtest.Topics("t"), nil))
			}
			id := e.PublishData(t, "before", "t")
			for _, s := range streams {
				s.Until(t, id)
			}
			ctx, cancel := context.WithTimeout(context.Background(), hubtest.WaitTimeout)
			defer cancel()
			if err := e.Hub.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			retries := map[time.Duration]bool{}
			for i, s := range streams {
				evs, err := s.End(t)
				if len(evs) != 0 {
					t.Errorf("stream %d: events at shutdown: %+v", i, evs)
				}
				if !errors.Is(err, io.EOF) {
					t.Errorf("stream %d ended with %v, want a clean end (io.EOF)", i, err)
				}
				r, ok := s.Decoder.Retry()
				if !ok || r < shutdownRetry/10 || r > shutdownRetry {
					t.Errorf("stream %d: retry %v (%v), want within [%v, %v]", i, r, ok, shutdownRetry/10, shutdownRetry)
				}
				retries[r] = true
			}
			if len(retries) < 2 {
				t.Errorf("all %d streams got the same retry %v: no jitter", len(streams), retries)
			}
			checkComeBackLater(t, e, shutdownRetry)
			if n := e.Hub.Subscribers(); n != 0 {
				t.Errorf("%d subscribers after Close", n)
			}
		})
	}
}

// TestCloseStreams: CloseStreams (for http.Server.RegisterOnShutdown) ends
// the streams without waiting, and turns new subscriptions away.
func TestCloseStreams(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	s := e.Subscribe(t, hubtest.Topics("t"), nil)
	e.Hub.CloseStreams()
	if _, err := s.End(t); !errors.Is(err, io.EOF) {
		t.Errorf("stream ended with %v, want a clean end", err)
	}
	if _, ok := s.Decoder.Retry(); !ok {
		t.Error("no retry before the end")
	}
	checkComeBackLater(t, e, hub.DefaultShutdownRetry)
}

// TestCloseAbortsStuckStreams: a stream whose client does not read cannot
// be ended gracefully; Close gives up when its context ends, aborts it, and
// returns the context's error.
func TestCloseAbortsStuckStreams(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{
		Hub:      hub.Options{QueueBytes: -1},
		Listener: func(l net.Listener) net.Listener { return smallBufferListener{l} },
	})
	client := smallBufferClient(e.Client)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"?"+hubtest.Topics("t"), nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Fill the connection so that the hub's writes block.
	reader := e.Subscribe(t, hubtest.Topics("t"), nil)
	big := strings.Repeat("x", 128<<10)
	var last herald.Update
	for range 16 {
		if last, err = e.Hub.Publish(context.Background(), update("t", big)); err != nil {
			t.Fatal(err)
		}
	}
	reader.Until(t, last.ID)

	closeCtx, closeCancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer closeCancel()
	start := time.Now()
	err = e.Hub.Close(closeCtx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > hubtest.WaitTimeout {
		t.Errorf("Close took %v", d)
	}
	if n := e.Hub.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after Close", n)
	}
}

// checkComeBackLater: a subscription to a hub that is shutting down gets no
// stream, but not an error status either, which would make an EventSource
// give up for good: a 200 event stream that holds only a reconnection delay
// within [shutdownRetry/10, shutdownRetry], and ends.
func checkComeBackLater(t *testing.T, e *hubtest.Env, shutdownRetry time.Duration) {
	t.Helper()
	resp, body := e.GetText(t, "?"+hubtest.Topics("t"), nil)
	if resp.StatusCode != http.StatusOK || hubtest.MediaType(resp) != "text/event-stream" {
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

// TestShutdownFrame: a stream ends with the reconnection delay alone,
// "retry: N\n", and no blank line after it: by the standard a blank line
// there dispatches nothing, but popular clients (fetch-event-source,
// extended-eventsource, go-sse, LaunchDarkly's) hand their application an
// empty message for it. The answer to a subscription while shutting down is
// that line alone. With a negative ShutdownRetry, streams end with no retry
// at all.
func TestShutdownFrame(t *testing.T) {
	retryLine := regexp.MustCompile(`\nretry: [0-9]+\n$`)
	for _, m := range hubtest.Modes {
		for _, retry := range []time.Duration{time.Second, -1} {
			t.Run(fmt.Sprintf("%s/ShutdownRetry=%v", m.Name, retry), func(t *testing.T) {
				t.Parallel()
				e := hubtest.New(t, hubtest.Config{Mode: m, Hub: hub.Options{ShutdownRetry: retry, Heartbeat: -1}})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				resp := e.Get(t, ctx, "?"+hubtest.Topics("t"), nil)
				defer resp.Body.Close()
				raw := make(chan []byte, 1)
				sawLast := make(chan struct{})
				go func() {
					var b []byte
					buf := make([]byte, 512)
					seen := false
					for {
						n, err := resp.Body.Read(buf)
						b = append(b, buf[:n]...)
						if !seen && bytes.Contains(b, []byte("data: last\n\n")) {
							close(sawLast)
							seen = true
						}
						if err != nil {
							raw <- b
							return
						}
					}
				}()
				e.PublishData(t, "last", "t")
				select { // delivered before the hub shuts down
				case <-sawLast:
				case <-time.After(hubtest.WaitTimeout):
					t.Fatal("the last event did not arrive")
				}
				closeCtx, closeCancel := context.WithTimeout(context.Background(), hubtest.WaitTimeout)
				defer closeCancel()
				if err := e.Hub.Close(closeCtx); err != nil {
					t.Fatal(err)
				}
				var b []byte
				select {
				case b = <-raw:
				case <-time.After(hubtest.WaitTimeout):
					t.Fatal("the stream did not end")
				}
				tail := b[bytes.LastIndex(b, []byte("data: last\n\n"))+len("data: last\n"):]
				if retry < 0 {
					if !bytes.Equal(tail, []byte("\n")) {
						t.Errorf("after the last event: %q, want nothing", tail[1:])
					}
					return
				}
				if !retryLine.Match(tail) {
					t.Errorf("after the last event: %q, want a blank line then only %q", tail, "retry: N\n")
				}

				resp2, body := e.GetText(t, "?"+hubtest.Topics("t"), nil)
				if resp2.StatusCode != http.StatusOK || !regexp.MustCompile(`^retry: [0-9]+\n$`).MatchString(body) {
					t.Errorf("subscribe while shutting down: %s %q, want 200 with only %q", resp2.Status, body, "retry: N\n")
				}
			})
		}
	}
}
