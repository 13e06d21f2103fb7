package eventsource

import (
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of [Reconnect], used for fields left zero.
const (
	// DefaultDelay is the reconnection time until the server sets one with
	// "retry:". Browsers use about 3 seconds too.
	DefaultDelay = 3 * time.Second
	// DefaultMaxDelay caps the exponential backoff.
	DefaultMaxDelay = 30 * time.Second
	// DefaultFactor multiplies the delay after each failure in a row.
	DefaultFactor = 2.0
	// DefaultJitter adds up to half of each delay at random.
	DefaultJitter = 0.5
	// DefaultResetAfter is how long a connection must stay open, if it
	// delivers no event, to count as healthy.
	DefaultResetAfter = time.Minute
)

// NoDelay, as [Reconnect.Delay], sets a reconnection time of zero: a stream
// that ends is reconnected at once, as after "retry: 0" from the server.
// Failures in a row still back off as [Reconnect] documents (from a base of
// 100ms: 200ms, 400ms...), with jitter. Any negative Delay means the same.
const NoDelay time.Duration = -1

// Reconnect is a [Client]'s reconnection policy, in one place. The zero
// value is the default policy: reconnect forever, starting from the
// reconnection time (3s, or what the server sets with "retry:"), doubling
// the wait after each failure in a row up to 30s, plus up to 50% jitter, and
// no read timeout.
//
// The client waits before every reconnection, never before the first
// attempt. After n failures in a row (n ≥ 1) the wait is
//
//	b = min(base × Factor^(n-1), max(MaxDelay, base))
//	wait = b + random in [0, b × Jitter)
//
// where base is the reconnection time (from the second failure on, a base
// below 100ms counts as 100ms, so that "retry: 0" or [NoDelay] cannot make a
// client hammer a failing server). The wait is therefore never shorter
// than the server's "retry:", as the standard requires ("wait a delay equal
// to the reconnection time ... optionally, wait some more"). After a
// response retried for RetryTransient that carries Retry-After, b is at
// least the time Retry-After gives, before the jitter is added.
//
// A failure is an attempt that could not connect (network error, read
// timeout before the response, a status RetryTransient retries) or a
// connection that ended before it proved healthy. A connection is healthy once it has delivered an event or stayed
// open for ResetAfter; then the count of failures starts again from zero, so
// a stream that breaks after hours reconnects after the base delay.
type Reconnect struct {
	// Delay is the reconnection time until the server sets one with
	// "retry:". Zero means DefaultDelay (3s); NoDelay (any negative value)
	// means zero.
	Delay time.Duration

	// MaxDelay caps the backoff (before jitter), unless the server's
	// reconnection time is longer: that is never shortened. Zero means
	// DefaultMaxDelay (30s).
	MaxDelay time.Duration

	// Factor multiplies the wait after each failure in a row. Zero means
	// DefaultFactor (2); values below 1 mean 1 (no growth).
	Factor float64

	// Jitter is the fraction of each wait added at random, spreading the
	// reconnections of many clients after a server restart. Zero means
	// DefaultJitter (0.5); a negative value disables jitter.
	Jitter float64

	// ResetAfter is how long a connection that delivers no event must stay
	// open to count as healthy and reset the backoff. Zero means
	// DefaultResetAfter (1 minute).
	ResetAfter time.Duration

	// ReadTimeout, when positive, drops a connection and reconnects when no
	// byte (not even a comment) arrived for that long, while waiting for
	// the response or for the stream's next bytes. Time the caller spends
	// handling an event does not count. Zero means no read timeout: set it
	// a little above the server's heartbeat interval.
	ReadTimeout time.Duration

	// MaxRetries, when positive, ends the sequence with an error wrapping
	// [ErrGaveUp] after that many reconnections in a row failed. Zero means
	// reconnect forever, as browsers do.
	MaxRetries int

	// RetryTransient, when true, makes the statuses that say the refusal is
	// temporary failed attempts, retried with the backoff and jitter above,
	// instead of fatal errors: 502 Bad Gateway, 503 Service Unavailable and
	// 504 Gateway Timeout (what a proxy answers while the server behind it
	// restarts) and 429 Too Many Requests. Their Retry-After header, in
	// seconds or as a date, is honoured: the wait is never shorter, even
	// past MaxDelay. StateChange.Err reports each as a [*StatusError], and
	// the error of MaxRetries wraps the last one. False, the default, is the
	// standard's behaviour, a browser's: every status but 200 and 204 ends
	// the sequence.
	RetryTransient bool
}

// transient reports whether RetryTransient retries a response with status
// code.
func transient(code int) bool {
	switch code {
	case 429, 502, 503, 504:
		return true
	}
	return false
}

// withDefaults returns r with its zero fields set to the defaults.
func (r Reconnect) withDefaults() Reconnect {
	switch {
	case r.Delay == 0:
		r.Delay = DefaultDelay
	case r.Delay < 0:
		r.Delay = 0
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultMaxDelay
	}
	if r.Factor == 0 {
		r.Factor = DefaultFactor
	}
	r.Factor = max(r.Factor, 1)
	if r.Jitter == 0 {
		r.Jitter = DefaultJitter
	}
	r.Jitter = max(r.Jitter, 0)
	if r.ResetAfter <= 0 {
		r.ResetAfter = DefaultResetAfter
	}
	return r
}

// minGrowth is the smallest delay the backoff grows from, so that a server
// that sets "retry: 0" cannot make a client hammer it while it fails.
const minGrowth = 100 * time.Millisecond

// wait returns how long to wait before reconnecting after failures failed
// attempts in a row (at least 1), given the reconnection time base and the
// least wait the server asked for with Retry-After (floor, 0 if none). r
// must have its defaults set.
func (r Reconnect) wait(failures int, base, floor time.Duration) time.Duration {
	limit := max(r.MaxDelay, base)
	b := base
	if failures > 1 {
		b = max(b, minGrowth)
	}
	for i := 1; i < failures && b < limit; i++ {
		next := float64(b) * r.Factor
		if next >= float64(limit) {
			b = limit
			break
		}
		b = time.Duration(next)
	}
	b = max(min(b, limit), floor)
	if r.Jitter > 0 && b > 0 {
		extra := min(float64(b)*r.Jitter, math.MaxInt64/4)
		if extra >= 1 {
			if w := b + time.Duration(rand.Int64N(int64(extra))); w > b {
				b = w // else it overflowed: keep b
			}
		}
	}
	return b
}
