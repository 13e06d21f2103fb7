package eventsource_test

// The tests in this file run on synctest's fake clock, over an in-memory
// network (newMemServer), so that they assert exact delays without sleeping.
// synctest.Test also fails a test that leaves a goroutine running.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/herald-sse/herald/eventsource"
)

const memURL = "http://stream.test/events"

// intervals returns the time between the starts of successive requests.
func intervals(reqs []request) []time.Duration {
	var d []time.Duration
	for i := 1; i < len(reqs); i++ {
		d = append(d, reqs[i].Time.Sub(reqs[i-1].Time))
	}
	return d
}

// empty answers 200 text/event-stream and ends at once: a connection that
// delivers no event, which counts as a failure.
var empty = send()

// hold returns a handler that opens the stream, stays silent for d and ends.
func hold(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		send()(w, r)
		pause(r, d)
	}
}

// pause waits for d, or less if the request ends first; it reports whether
// the request is still there.
func pause(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func TestReconnectionTimeFollowsRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{
			send("retry: 5000\ndata: a\n\n"),
			// A retry field counts as soon as its line arrives, even in a
			// block the stream cuts before its blank line.
			send("data: b\n\nretry: 250\ndata: cut"),
			send("retry: 1e3\nretry: -1\ndata: c\n\n"), // invalid: ignored
			send("retry: 0\ndata: d\n\n"),
			sendAndHold("data: e\n\n"),
		}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{Jitter: -1}}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 5)

		got := intervals(s.requests())
		want := []time.Duration{5 * time.Second, 250 * time.Millisecond, 250 * time.Millisecond, 0}
		if !slices.Equal(got, want) {
			t.Errorf("reconnection delays = %v, want %v", got, want)
		}
	})
}

func TestDefaultReconnectionTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{send("data: a\n\n"), sendAndHold("data: b\n\n")}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{Jitter: -1}}
		start := time.Now()
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 2)
		reqs := s.requests()
		if d := reqs[0].Time.Sub(start); d != 0 {
			t.Errorf("first attempt after %v, want at once", d)
		}
		if got := intervals(reqs); !slices.Equal(got, []time.Duration{eventsource.DefaultDelay}) {
			t.Errorf("reconnection delay = %v, want %v", got, eventsource.DefaultDelay)
		}
	})
}

// TestBackoffGrowsCapsAndResets: failures in a row double the wait up to
// the cap; a connection that delivers an event starts over from the base.
func TestBackoffGrowsCapsAndResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{
			empty, empty, empty, empty, empty, empty,
			send("data: healthy\n\n"),
			empty,
			sendAndHold("data: last\n\n"),
		}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{
			Delay: time.Second, MaxDelay: 10 * time.Second, Jitter: -1,
		}}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 2)

		sec := time.Second
		want := []time.Duration{1 * sec, 2 * sec, 4 * sec, 8 * sec, 10 * sec, 10 * sec, 1 * sec, 2 * sec}
		if got := intervals(s.requests()); !slices.Equal(got, want) {
			t.Errorf("delays = %v, want %v", got, want)
		}
	})
}

// TestBackoffResetsAfterHealthyDuration: a connection without events counts
// as healthy once it stayed open for ResetAfter, not before.
func TestBackoffResetsAfterHealthyDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{
			empty, empty,
			hold(59 * time.Second), // not long enough: a failure
			hold(60 * time.Second), // healthy
			empty,
			sendAndHold("data: last\n\n"),
		}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{
			Delay: time.Second, ResetAfter: time.Minute, Jitter: -1,
		}}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 1)

		sec := time.Second
		want := []time.Duration{1 * sec, 2 * sec, (59 + 4) * sec, (60 + 1) * sec, 2 * sec}
		if got := intervals(s.requests()); !slices.Equal(got, want) {
			t.Errorf("intervals = %v, want %v", got, want)
		}
	})
}

// TestBackoffNeverBelowRetry: the server's reconnection time is honoured
// even when it is above MaxDelay.
func TestBackoffNeverBelowRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{send("retry: 60000\n\n"), empty, sendAndHold("data: x\n\n")}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{
			Delay: time.Second, MaxDelay: 10 * time.Second, Jitter: -1,
		}}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 1)
		want := []time.Duration{time.Minute, time.Minute}
		if got := intervals(s.requests()); !slices.Equal(got, want) {
			t.Errorf("intervals = %v, want %v", got, want)
		}
	})
}

func TestBackoffJitterBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{empty}}
		const retries = 12
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{
			Delay: time.Second, MaxDelay: 8 * time.Second, Jitter: 0.5, MaxRetries: retries,
		}}
		_, err := final(t.Context(), c, mustRequest(t, "GET", memURL, nil))
		if !errors.Is(err, eventsource.ErrGaveUp) || !errors.Is(err, eventsource.ErrStreamEnded) {
			t.Errorf("err = %v, want ErrGaveUp wrapping ErrStreamEnded", err)
		}
		got := intervals(s.requests())
		if len(got) != retries {
			t.Fatalf("%d reconnections, want %d", len(got), retries)
		}
		jittered := 0
		for i, d := range got {
			b := min(time.Second<<i, 8*time.Second)
			if d < b || d >= b+b/2 {
				t.Errorf("delay %d = %v, want in [%v, %v)", i+1, d, b, b+b/2)
			}
			if d > b {
				jittered++
			}
		}
		if jittered == 0 {
			t.Errorf("no delay was jittered: %v", got)
		}
	})
}

// TestReadTimeoutReconnectsSilentStream: a stream that sends nothing, not
// even a comment, for ReadTimeout is dropped and reconnected.
func TestReadTimeoutReconnectsSilentStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{sendAndHold("id: 1\ndata: one\n\n"), sendAndHold("data: two\n\n")}}
		var errs []error
		c := &eventsource.Client{
			HTTPClient: newMemServer(t, s),
			Reconnect:  eventsource.Reconnect{Delay: time.Second, Jitter: -1, ReadTimeout: 10 * time.Second},
			OnStateChange: func(sc eventsource.StateChange) {
				if sc.State == eventsource.StateReconnecting {
					errs = append(errs, sc.Err)
				}
			},
		}
		got := collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 2)
		if got[1].Data != "two" || got[1].ID != "1" {
			t.Errorf("second event = %+v", got[1])
		}
		reqs := s.requests()
		if d := intervals(reqs); !slices.Equal(d, []time.Duration{11 * time.Second}) {
			t.Errorf("reconnected after %v, want 10s timeout + 1s delay", d)
		}
		if got := reqs[1].Header.Get("Last-Event-ID"); got != "1" {
			t.Errorf("Last-Event-ID = %q, want 1", got)
		}
		if len(errs) != 1 || !errors.Is(errs[0], eventsource.ErrReadTimeout) {
			t.Errorf("reconnecting after %v, want ErrReadTimeout", errs)
		}
	})
}

// TestReadTimeoutWaitingForResponse: a server that never answers is
// dropped after ReadTimeout too.
func TestReadTimeoutWaitingForResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{
			func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			sendAndHold("data: two\n\n"),
		}}
		var errs []error
		c := &eventsource.Client{
			HTTPClient: newMemServer(t, s),
			Reconnect:  eventsource.Reconnect{Delay: time.Second, Jitter: -1, ReadTimeout: 5 * time.Second},
			OnStateChange: func(sc eventsource.StateChange) {
				if sc.State == eventsource.StateReconnecting {
					errs = append(errs, sc.Err)
				}
			},
		}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 1)
		if d := intervals(s.requests()); !slices.Equal(d, []time.Duration{6 * time.Second}) {
			t.Errorf("reconnected after %v, want 5s timeout + 1s delay", d)
		}
		if len(errs) != 1 || !errors.Is(errs[0], eventsource.ErrReadTimeout) {
			t.Errorf("reconnecting after %v, want ErrReadTimeout", errs)
		}
	})
}

// TestTrickleDoesNotTimeOut: bytes arriving one at a time, each within the
// read timeout, keep the stream alive however long the event takes, and
// the event is delivered whole.
func TestTrickleDoesNotTimeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const stream = "\xEF\xBB\xBFid: 7\r\nevent: tick\r\ndata: hello\r\ndata: €豆腐\r\n\r\n"
		s := &script{handlers: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			send()(w, r)
			rc := http.NewResponseController(w)
			for i := range len(stream) {
				if !pause(r, 5*time.Second) {
					return
				}
				io.WriteString(w, stream[i:i+1])
				rc.Flush()
			}
			<-r.Context().Done()
		}}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{ReadTimeout: 10 * time.Second}}
		start := time.Now()
		got := collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 1)
		if got[0].ID != "7" || got[0].Type != "tick" || got[0].Data != "hello\n€豆腐" {
			t.Errorf("event = %+v", got[0])
		}
		// The CR that ends the blank line dispatches the event; the final
		// LF is not needed.
		if d, want := time.Since(start), time.Duration(len(stream)-1)*5*time.Second; d != want {
			t.Errorf("event after %v, want %v", d, want)
		}
		if n := len(s.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// TestHeartbeatsKeepStreamAlive: comments count as bytes received.
func TestHeartbeatsKeepStreamAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			send()(w, r)
			rc := http.NewResponseController(w)
			for range 20 {
				if !pause(r, 9*time.Second) {
					return
				}
				io.WriteString(w, ": heartbeat\n")
				rc.Flush()
			}
			io.WriteString(w, "data: late\n\n")
			rc.Flush()
			<-r.Context().Done()
		}}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{ReadTimeout: 10 * time.Second}}
		got := collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 1)
		if got[0].Data != "late" || len(s.requests()) != 1 {
			t.Errorf("event %+v after %d requests, want \"late\" after 1", got[0], len(s.requests()))
		}
	})
}

// TestSlowConsumerDoesNotTimeOut: time the caller spends on an event does
// not count against the read timeout.
func TestSlowConsumerDoesNotTimeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{sendAndHold("data: 1\n\n", "data: 2\n\n", "data: 3\n\n")}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{ReadTimeout: 10 * time.Second}}
		n := 0
		for _, err := range c.Events(t.Context(), mustRequest(t, "GET", memURL, nil)) {
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Minute)
			if n++; n == 3 {
				break
			}
		}
		if got := len(s.requests()); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
}

// TestCancelDuringBackoff: cancelling the context while the client waits
// to reconnect ends the sequence at once with ctx.Err().
func TestCancelDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{empty}}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var states []eventsource.State
		c := &eventsource.Client{
			HTTPClient:    newMemServer(t, s),
			Reconnect:     eventsource.Reconnect{Delay: time.Hour},
			OnStateChange: func(sc eventsource.StateChange) { states = append(states, sc.State) },
		}
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		start := time.Now()
		_, err := final(ctx, c, mustRequest(t, "GET", memURL, nil))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("ended after %v, want 1s", d)
		}
		want := []eventsource.State{eventsource.StateConnecting, eventsource.StateOpen, eventsource.StateReconnecting, eventsource.StateClosed}
		if !slices.Equal(states, want) {
			t.Errorf("states = %v, want %v", states, want)
		}
	})
}

// TestMaxRetries: MaxRetries failed reconnections in a row end the sequence.
func TestMaxRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{send("data: a\n\n"), empty, empty, empty, sendAndHold("data: never\n\n")}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{Delay: time.Second, MaxRetries: 3, Jitter: -1}}
		events, err := final(t.Context(), c, mustRequest(t, "GET", memURL, nil))
		if len(events) != 1 || !errors.Is(err, eventsource.ErrGaveUp) {
			t.Errorf("events %+v, err %v; want one event then ErrGaveUp", events, err)
		}
		// The healthy first connection ended (failure 1), then 3 attempts
		// failed: 1 + 3 reconnections in all, the last one gave up.
		if n := len(s.requests()); n != 4 {
			t.Errorf("%d requests, want 4", n)
		}
	})
}

// TestNoDelay: Delay NoDelay is a reconnection time of zero: a stream that
// ends is reconnected at once, and failures in a row still back off as
// after "retry: 0" (from a base of 100ms: 200ms, 400ms...).
func TestNoDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{
			send("data: a\n\n"), send("data: b\n\n"), empty, empty, empty,
			sendAndHold("data: c\n\n"),
		}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{Delay: eventsource.NoDelay, Jitter: -1}}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 3)
		ms := time.Millisecond
		want := []time.Duration{0, 0, 200 * ms, 400 * ms, 800 * ms}
		if got := intervals(s.requests()); !slices.Equal(got, want) {
			t.Errorf("reconnection delays = %v, want %v", got, want)
		}
	})
}

// TestNoDelayWithJitter: jitter adds nothing to a zero wait, and up to half
// of each wait of the backoff.
func TestNoDelayWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{send("data: a\n\n"), empty}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{Delay: eventsource.NoDelay, MaxRetries: 6}}
		_, err := final(t.Context(), c, mustRequest(t, "GET", memURL, nil))
		if !errors.Is(err, eventsource.ErrGaveUp) {
			t.Fatalf("err = %v, want ErrGaveUp", err)
		}
		got := intervals(s.requests())
		if len(got) != 6 || got[0] != 0 {
			t.Fatalf("delays = %v, want 6, the first 0", got)
		}
		for i, d := range got[1:] {
			b := 200 * time.Millisecond << i
			if d < b || d >= b+b/2 {
				t.Errorf("delay %d = %v, want in [%v, %v)", i+2, d, b, b+b/2)
			}
		}
	})
}

// TestTransientStatusBacksOff: with RetryTransient, 502, 503 and 504 are
// failures in a row: the waits grow as for any failure.
func TestTransientStatusBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{
			status(502, ""), status(503, ""), status(504, ""), status(502, ""),
			sendAndHold("data: up\n\n"),
		}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{
			Delay: time.Second, Jitter: -1, RetryTransient: true,
		}}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 1)
		sec := time.Second
		if got, want := intervals(s.requests()), []time.Duration{1 * sec, 2 * sec, 4 * sec, 8 * sec}; !slices.Equal(got, want) {
			t.Errorf("delays = %v, want %v", got, want)
		}
	})
}

// retryAfter answers code with a Retry-After header.
func retryAfter(code int, value func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", value())
		w.WriteHeader(code)
	}
}

// TestRetryAfter: with RetryTransient, 429 and 503 are retried no sooner
// than their Retry-After says, in seconds or as a date, even past MaxDelay;
// a Retry-After shorter than the backoff, in the past or invalid leaves the
// backoff as it is.
func TestRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := func(d time.Duration) func() string {
			return func() string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }
		}
		fixed := func(v string) func() string { return func() string { return v } }
		s := &script{handlers: []http.HandlerFunc{
			retryAfter(429, fixed("10")),        // 10s > backoff 1s
			retryAfter(503, in(20*time.Second)), // a date 20s ahead
			retryAfter(503, fixed("120")),       // past MaxDelay
			retryAfter(429, fixed("1")),         // shorter than the backoff (8s)
			retryAfter(503, in(-time.Hour)),     // in the past
			retryAfter(503, fixed("soon")),      // invalid
			sendAndHold("data: up\n\n"),
		}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{
			Delay: time.Second, MaxDelay: 30 * time.Second, Jitter: -1, RetryTransient: true,
		}}
		collectWithin(t, time.Hour, c, mustRequest(t, "GET", memURL, nil), 1)
		sec := time.Second
		want := []time.Duration{10 * sec, 20 * sec, 120 * sec, 8 * sec, 16 * sec, 30 * sec}
		if got := intervals(s.requests()); !slices.Equal(got, want) {
			t.Errorf("delays = %v, want %v", got, want)
		}
	})
}

// TestRetryAfterWithJitter: jitter spreads clients told the same
// Retry-After, never below it.
func TestRetryAfterWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{retryAfter(503, func() string { return "10" })}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s), Reconnect: eventsource.Reconnect{
			Delay: time.Second, MaxRetries: 8, RetryTransient: true,
		}}
		if _, err := final(t.Context(), c, mustRequest(t, "GET", memURL, nil)); !errors.Is(err, eventsource.ErrGaveUp) {
			t.Fatalf("err = %v, want ErrGaveUp", err)
		}
		jittered := 0
		for i, d := range intervals(s.requests()) {
			b := max(10*time.Second, min(time.Second<<i, eventsource.DefaultMaxDelay))
			if d < b || d >= b+b/2 {
				t.Errorf("delay %d = %v, want in [%v, %v)", i+1, d, b, b+b/2)
			}
			if d > b {
				jittered++
			}
		}
		if jittered == 0 {
			t.Error("no delay was jittered")
		}
	})
}

// TestErrorBodyThatStalls: a refused response that declares a length but
// stops sending ends the sequence after at most a second, with what came.
func TestErrorBodyThatStalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{handlers: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "missing")
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}}}
		c := &eventsource.Client{HTTPClient: newMemServer(t, s)}
		start := time.Now()
		_, err := final(t.Context(), c, mustRequest(t, "GET", memURL, nil))
		var se *eventsource.StatusError
		if !errors.As(err, &se) || se.Code != 401 || string(se.Body) != "missing" {
			t.Fatalf("err = %v, want a 401 StatusError with the body's start", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("ended after %v, want 1s", d)
		}
	})
}
