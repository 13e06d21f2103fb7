package eventsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"time"

	"github.com/herald-sse/herald/sse"
)

// Client consumes event streams. The zero Client is ready to use, with the
// default [Reconnect] policy and a private HTTP transport.
//
// A Client may run several sequences at once (its hooks are then called
// from each); its fields must not change while a sequence runs.
type Client struct {
	// HTTPClient sends the requests and follows redirects (see the package
	// documentation). Nil means a private transport, cloned from
	// [http.DefaultTransport] for each sequence, whose connections are all
	// closed when the sequence ends. Its Timeout must be zero, or it cuts
	// every stream after Timeout: use Reconnect.ReadTimeout instead.
	HTTPClient *http.Client

	// Reconnect is the reconnection policy. The zero value is the default
	// policy documented on [Reconnect].
	Reconnect Reconnect

	// MaxEventSize bounds the size of one event (see
	// [sse.Decoder.MaxEventSize]); a larger event ends the sequence with an
	// error wrapping [sse.ErrEventTooLarge]. Zero means
	// [sse.DefaultMaxEventSize] (4 MiB).
	MaxEventSize int

	// BeforeConnect, when not nil, is called before every connection
	// attempt, the first included, with the request about to be sent: it
	// may set headers, for example a fresh Authorization token. ctx is the
	// attempt's context, done when the attempt or the sequence ends. An
	// error ends the sequence with that error
	// (wrapped), without a connection; a hook that wants retries makes them
	// itself.
	BeforeConnect func(ctx context.Context, req *http.Request) error

	// OnStateChange, when not nil, is called at every change of state, on
	// the goroutine that iterates, before the sequence goes on. StateOpen
	// carries the response, whose headers the server may use to say
	// something (Mercure sends Last-Event-ID to say where it resumed).
	OnStateChange func(StateChange)

	// OnComment, when not nil, is called with the text of every comment
	// line the server sends (a heartbeat such as ": ping"), on the
	// goroutine that iterates, in the stream's order relative to the
	// events, before the sequence goes on: the text after the colon without
	// one leading space, as [sse.Decoder.OnComment] reports it. Nil, the
	// default, ignores comments, as browsers do.
	OnComment func(text string)
}

// Events connects to the event stream req describes and returns the events
// it dispatches, reconnecting when the stream ends or breaks, until ctx is
// done or a fatal error.
//
// req is the template of every attempt: its method, URL, headers and body
// (sent again from req.GetBody each time) are used as they are, and ctx
// replaces its context. A Last-Event-ID header on req sets the initial last
// event ID. Each attempt adds the headers a browser's EventSource sends,
// each unless req sets it: "Accept: text/event-stream", and, for the
// standard's cache mode "no-store", "Cache-Control: no-cache" and "Pragma:
// no-cache"; and the last event ID in force, if not empty, as
// Last-Event-ID.
//
// The sequence yields events with a nil error. It yields a non-nil error
// exactly once, as its last element: ctx.Err() when ctx is done (a clean
// end), [ErrNoContent] when the server said to stop (204), or the fatal
// error (a [*StatusError], a [*ContentTypeError], an error wrapping
// [ErrInvalidRequest], [ErrGaveUp] or [sse.ErrEventTooLarge], or the error
// of BeforeConnect). Transient failures are not yielded: they are reported
// to OnStateChange, and the client reconnects after the delay its policy
// gives.
//
// Events starts no goroutine of its own, and no connection of the sequence
// outlives it, whether it ends on its own or because the caller stops
// iterating: the stream's connection is closed, and with the private
// transport (HTTPClient nil) every other connection too. With an HTTPClient,
// connections whose response was read to the end go back to its pool, as
// with any request. The sequence can be iterated more than once; each
// iteration starts again from req.
func (c *Client) Events(ctx context.Context, req *http.Request) iter.Seq2[sse.Event, error] {
	return func(yield func(sse.Event, error) bool) {
		s := &stream{c: c, base: req, policy: c.Reconnect.withDefaults()}
		s.retry = s.policy.Delay
		if req != nil {
			s.lastID = req.Header.Get("Last-Event-ID")
		}
		s.httpc = c.HTTPClient
		if s.httpc == nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			defer tr.CloseIdleConnections()
			s.httpc = &http.Client{Transport: tr}
		}
		err := s.run(ctx, yield)
		if err == errStopped {
			s.notify(StateChange{State: StateClosed, Attempt: s.attempts, Failures: s.failures})
			return
		}
		s.notify(StateChange{State: StateClosed, Attempt: s.attempts, Failures: s.failures, Err: err})
		yield(sse.Event{}, err)
	}
}

// errStopped reports that the caller stopped iterating.
var errStopped = errors.New("eventsource: iteration stopped")

// stream is the state of one sequence.
type stream struct {
	c        *Client
	base     *http.Request
	httpc    *http.Client
	policy   Reconnect
	lastID   string        // the last event ID string
	retry    time.Duration // the reconnection time
	failures int           // failed attempts in a row
	attempts int           // attempts made
}

func (s *stream) notify(sc StateChange) {
	if s.c.OnStateChange != nil {
		s.c.OnStateChange(sc)
	}
}

// run makes attempts until one ends the sequence, and returns the error the
// sequence ends with (errStopped if the caller stopped).
func (s *stream) run(ctx context.Context, yield func(sse.Event, error) bool) error {
	if err := checkRequest(s.base); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.attempts++
		s.notify(StateChange{State: StateConnecting, Attempt: s.attempts})
		healthy, err := s.attempt(ctx, yield)
		if fe, ok := err.(fatalError); ok {
			return fe.err
		}
		var after time.Duration
		if te, ok := err.(transientError); ok {
			err, after = te.err, te.after
		}
		if healthy {
			s.failures = 0
		}
		s.failures++
		if max := s.policy.MaxRetries; max > 0 && s.failures > max {
			return &gaveUpError{failures: s.failures, last: err}
		}
		wait := s.policy.wait(s.failures, s.retry, after)
		s.notify(StateChange{State: StateReconnecting, Attempt: s.attempts + 1, Failures: s.failures, Delay: wait, Err: err})
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// fatalError marks an error that ends the sequence.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }

// transientError marks a status that RetryTransient retries, with the wait
// its Retry-After asks for.
type transientError struct {
	err   *StatusError
	after time.Duration
}

func (e transientError) Error() string { return e.err.Error() }

// attempt makes one connection attempt and reads its stream to the end. It
// returns whether the connection proved healthy and why it ended: a
// fatalError ends the sequence, any other error calls for a reconnection.
func (s *stream) attempt(ctx context.Context, yield func(sse.Event, error) bool) (healthy bool, err error) {
	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := newAttempt(connCtx, s.base, s.lastID)
	if err != nil {
		return false, fatalError{err}
	}
	if s.c.BeforeConnect != nil {
		if err := s.c.BeforeConnect(connCtx, req); err != nil {
			if ctx.Err() != nil {
				return false, fatalError{ctx.Err()}
			}
			return false, fatalError{fmt.Errorf("eventsource: before connect: %w", err)}
		}
	}

	timeout := s.policy.ReadTimeout
	wd := newWatchdog(timeout, func() { cancel(errReadTimeoutCause) })
	defer wd.disarm()
	// ended classifies the error that ended the attempt.
	ended := func(err error, what string) error {
		switch {
		case ctx.Err() != nil:
			return fatalError{ctx.Err()}
		case context.Cause(connCtx) == errReadTimeoutCause:
			return fmt.Errorf("%w: nothing received for %v %s", ErrReadTimeout, timeout, what)
		}
		return err
	}

	resp, err := s.httpc.Do(req)
	wd.disarm()
	if err != nil {
		// A response with an error means that the redirect policy refused
		// to go on (too many redirects): as futile as an untrusted
		// certificate.
		if resp != nil || futile(err) {
			return false, fatalError{err}
		}
		return false, ended(err, "while waiting for the response")
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			se.Body = errorBody(resp, func() { cancel(errErrorBodyCause) })
			if s.policy.RetryTransient && transient(se.Code) {
				return false, transientError{err: se, after: retryAfter(resp.Header)}
			}
		}
		return false, fatalError{err}
	}
	s.notify(StateChange{State: StateOpen, Attempt: s.attempts, Failures: s.failures, Response: resp})

	opened := time.Now()
	// As a browser's EventSource, carry the last event ID over from the
	// previous connection.
	dec := sse.NewDecoder(watchedReader{r: resp.Body, w: wd})
	dec.SetLastEventID(s.lastID)
	dec.MaxEventSize = s.c.MaxEventSize
	dec.OnComment = s.c.OnComment
	events := 0
	for {
		ev, derr := dec.Decode()
		if derr != nil {
			err = derr
			break
		}
		events++
		s.lastID = dec.LastEventID()
		if !yield(ev, nil) {
			return true, fatalError{errStopped}
		}
	}
	s.lastID = dec.LastEventID()
	if d, ok := dec.Retry(); ok {
		s.retry = d
	}
	healthy = events > 0 || time.Since(opened) >= s.policy.ResetAfter
	switch {
	case errors.Is(err, sse.ErrEventTooLarge):
		return healthy, fatalError{fmt.Errorf("eventsource: %w", err)}
	case err == io.EOF:
		return healthy, ErrStreamEnded
	}
	return healthy, ended(fmt.Errorf("eventsource: stream broken: %w", err), "on the stream")
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
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
