package eventsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"sync"
	"time"

	"github.com/herald-sse/herald/sse"
)

// Stream is an event stream of a [Client] that the caller can restart on
// purpose with [Stream.Restart]: to send new credentials (BeforeConnect
// builds every attempt's request), or to give a proxy a new connection.
// [Client.Stream] makes one; its Events method iterates as [Client.Events]
// does.
//
// A Stream is safe for concurrent use: Restart is meant to be called from
// any goroutine, for example one that renews a token, while another
// iterates.
type Stream struct {
	c   *Client
	req *http.Request

	mu   sync.Mutex
	seqs map[*sequence]struct{} // the iterations running
}

// Stream returns a Stream of the event stream req describes; nothing is sent
// until its Events are iterated.
func (c *Client) Stream(req *http.Request) *Stream {
	return &Stream{c: c, req: req}
}

// Events connects to the stream and returns the events it dispatches, as
// [Client.Events] documents, with req the request the Stream was made
// with. Each iteration starts again from that request.
func (s *Stream) Events(ctx context.Context) iter.Seq2[sse.Event, error] {
	return func(yield func(sse.Event, error) bool) {
		c := s.c
		q := &sequence{s: s, c: c, base: s.req, policy: c.Reconnect.withDefaults()}
		q.retry = q.policy.Delay
		if s.req != nil {
			q.lastID = s.req.Header.Get("Last-Event-ID")
		}
		q.httpc = c.HTTPClient
		if q.httpc == nil {
			q.newTransport()
			defer q.closeTransports()
		}
		s.mu.Lock()
		if s.seqs == nil {
			s.seqs = make(map[*sequence]struct{})
		}
		s.seqs[q] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.seqs, q)
			s.mu.Unlock()
		}()

		err := q.run(ctx, yield)
		if err == errStopped {
			q.notify(StateChange{State: StateClosed, Attempt: q.attempts, Failures: q.failures})
			return
		}
		q.notify(StateChange{State: StateClosed, Attempt: q.attempts, Failures: q.failures, Err: err})
		yield(sse.Event{}, err)
	}
}

// Restart makes every running iteration of s's Events drop its connection,
// or abandon the attempt it is making, or cut short its wait before the
// next attempt, and connect again at once: with a new request, built from
// the Stream's through BeforeConnect, carrying the last event ID in force,
// on a new connection. Events the client already received are yielded
// first. The reconnection policy stays in force, with the reconnection
// time (also one the server set with "retry:") and the count of failures
// in a row: a restart is not a failure, and the reconnections after it wait
// as they would have. OnStateChange reports the connection a restart ends
// as StateReconnecting with [ErrRestarted] and no delay.
//
// The new connection is guaranteed with the private transport (HTTPClient
// nil), over HTTP/1.1 and HTTP/2 alike, and over HTTP/1.1 with any
// HTTPClient (a stream that is cut leaves no connection to reuse). With an
// HTTPClient speaking HTTP/2, Restart closes its idle connections, but the
// stream's connection may still be reused if it is busy with another
// request or not yet idle.
//
// Restart does not wait for the new connection, and does nothing when no
// iteration is running.
func (s *Stream) Restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range s.seqs {
		if q.cancelPhase != nil {
			q.cancelPhase(ErrRestarted)
		} else {
			q.restart = true
		}
	}
}

// errStopped reports that the caller stopped iterating.
var errStopped = errors.New("eventsource: iteration stopped")

// sequence is the state of one iteration of a Stream's Events.
type sequence struct {
	s        *Stream
	c        *Client
	base     *http.Request
	httpc    *http.Client
	policy   Reconnect
	lastID   string        // the last event ID string
	retry    time.Duration // the reconnection time
	failures int           // failed attempts in a row
	attempts int           // attempts made

	// transports are the private transport in use and the one before it
	// (HTTPClient nil): a restart replaces the one in use, so that the next
	// attempt cannot reuse a connection, and closes the idle connections of
	// both; a connection the last stream still held when it was dropped is
	// idle by the next restart or the end of the sequence.
	transports [2]*http.Transport

	// Guarded by s.mu.
	cancelPhase context.CancelCauseFunc // ends the current attempt or wait; nil between them
	restart     bool                    // Restart was called between two of them
}

func (q *sequence) notify(sc StateChange) {
	if q.c.OnStateChange != nil {
		q.c.OnStateChange(sc)
	}
}

// newTransport makes a new private transport the one in use.
func (q *sequence) newTransport() {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	q.transports = [2]*http.Transport{tr, q.transports[0]}
	q.httpc = &http.Client{Transport: tr}
}

// closeTransports closes the idle connections of the private transports.
func (q *sequence) closeTransports() {
	for _, tr := range q.transports {
		if tr != nil {
			tr.CloseIdleConnections()
		}
	}
}

// restarted prepares the next attempt after a restart: on a new connection.
func (q *sequence) restarted() {
	if q.c.HTTPClient == nil {
		q.closeTransports()
		q.newTransport()
		return
	}
	q.httpc.CloseIdleConnections()
}

// phase returns the context of the next attempt or wait, which Restart
// ends with the cause ErrRestarted, and the function to call when the
// phase is over, which reports whether Restart ended it. A Restart called
// since the last phase ended ends a wait at once; an attempt is a new
// connection anyway.
func (q *sequence) phase(ctx context.Context, wait bool) (context.Context, func() bool) {
	pctx, cancel := context.WithCancelCause(ctx)
	q.s.mu.Lock()
	q.cancelPhase = cancel
	if q.restart && wait {
		cancel(ErrRestarted)
	}
	q.restart = false
	q.s.mu.Unlock()
	return pctx, func() bool {
		q.s.mu.Lock()
		q.cancelPhase = nil
		q.s.mu.Unlock()
		restarted := context.Cause(pctx) == ErrRestarted
		cancel(nil)
		return restarted
	}
}

// run makes attempts until one ends the sequence, and returns the error the
// sequence ends with (errStopped if the caller stopped).
func (q *sequence) run(ctx context.Context, yield func(sse.Event, error) bool) error {
	if err := checkRequest(q.base); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		q.attempts++
		q.notify(StateChange{State: StateConnecting, Attempt: q.attempts})
		actx, done := q.phase(ctx, false)
		out := q.attempt(ctx, actx, yield)
		restarted := done()
		if out.fatal {
			return out.err
		}
		if out.healthy {
			q.failures = 0
		}
		if restarted {
			q.restarted()
			q.notify(StateChange{State: StateReconnecting, Attempt: q.attempts + 1, Failures: q.failures, Err: ErrRestarted})
			continue
		}
		q.failures++
		if max := q.policy.MaxRetries; max > 0 && q.failures > max {
			return &gaveUpError{failures: q.failures, last: out.err}
		}
		wait := q.policy.wait(q.failures, q.retry, out.after)
		q.notify(StateChange{State: StateReconnecting, Attempt: q.attempts + 1, Failures: q.failures, Delay: wait, Err: out.err})
		wctx, done := q.phase(ctx, true)
		sleep(wctx, wait)
		restarted = done()
		if err := ctx.Err(); err != nil {
			return err
		}
		if restarted {
			q.restarted()
		}
	}
}

// outcome is how an attempt ended.
type outcome struct {
	healthy bool          // the connection proved healthy
	err     error         // why it ended
	fatal   bool          // err ends the sequence
	after   time.Duration // the Retry-After of a status retried
}

// fatal returns the outcome of an attempt that ends the sequence with err.
func fatal(err error) outcome { return outcome{err: err, fatal: true} }

// attempt makes one connection attempt and reads its stream to the end. ctx
// is the sequence's context, actx the attempt's (see phase).
func (q *sequence) attempt(ctx, actx context.Context, yield func(sse.Event, error) bool) outcome {
	connCtx, cancel := context.WithCancelCause(actx)
	defer cancel(nil)
	req, err := newAttempt(connCtx, q.base, q.lastID)
	if err != nil {
		return fatal(err)
	}
	if q.c.BeforeConnect != nil {
		if err := q.c.BeforeConnect(connCtx, req); err != nil {
			switch {
			case ctx.Err() != nil:
				return fatal(ctx.Err())
			case context.Cause(connCtx) == ErrRestarted:
				return outcome{err: ErrRestarted}
			}
			return fatal(fmt.Errorf("eventsource: before connect: %w", err))
		}
	}

	timeout := q.policy.ReadTimeout
	wd := newWatchdog(timeout, func() { cancel(errReadTimeoutCause) })
	defer wd.disarm()
	// ended classifies the error that ended the attempt.
	ended := func(healthy bool, err error, what string) outcome {
		switch cause := context.Cause(connCtx); {
		case ctx.Err() != nil:
			return fatal(ctx.Err())
		case cause == ErrRestarted:
			return outcome{healthy: healthy, err: ErrRestarted}
		case cause == errReadTimeoutCause:
			return outcome{healthy: healthy, err: fmt.Errorf("%w: nothing received for %v %s", ErrReadTimeout, timeout, what)}
		}
		return outcome{healthy: healthy, err: err}
	}

	resp, err := q.httpc.Do(req)
	wd.disarm()
	if err != nil {
		// A response with an error means that the redirect policy refused
		// to go on (too many redirects): as futile as an untrusted
		// certificate.
		if resp != nil || futile(err) {
			return fatal(err)
		}
		return ended(false, err, "while waiting for the response")
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			se.Body = errorBody(resp, func() { cancel(errErrorBodyCause) })
			if q.policy.RetryTransient && transient(se.Code) {
				return outcome{err: se, after: retryAfter(resp.Header)}
			}
		}
		return fatal(err)
	}
	q.notify(StateChange{State: StateOpen, Attempt: q.attempts, Failures: q.failures, Response: resp})

	opened := time.Now()
	// As a browser's EventSource, carry the last event ID over from the
	// previous connection.
	dec := sse.NewDecoder(watchedReader{r: resp.Body, w: wd})
	dec.SetLastEventID(q.lastID)
	dec.MaxEventSize = q.c.MaxEventSize
	dec.OnComment = q.c.OnComment
	events := 0
	for {
		ev, derr := dec.Decode()
		if derr != nil {
			err = derr
			break
		}
		events++
		q.lastID = dec.LastEventID()
		if !yield(ev, nil) {
			return fatal(errStopped)
		}
	}
	q.lastID = dec.LastEventID()
	if d, ok := dec.Retry(); ok {
		q.retry = d
	}
	healthy := events > 0 || time.Since(opened) >= q.policy.ResetAfter
	switch {
	case errors.Is(err, sse.ErrEventTooLarge):
		return fatal(fmt.Errorf("eventsource: %w", err))
	case err == io.EOF:
		return outcome{healthy: healthy, err: ErrStreamEnded}
	}
	return ended(healthy, fmt.Errorf("eventsource: stream broken: %w", err), "on the stream")
}

var (
	// errReadTimeoutCause is the cause of a connection's context when the
	// watchdog expired.
	errReadTimeoutCause = errors.New("eventsource: read timeout expired")
	// errErrorBodyCause is its cause when the start of a refused response's
	// body did not come in time.
	errErrorBodyCause = errors.New("eventsource: error body too slow")
)

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
