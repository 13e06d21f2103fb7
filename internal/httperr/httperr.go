// Package httperr is the one place where Herald's HTTP layer (packages hub,
// mercure and web) turns errors into responses: [Status] maps the shared
// sentinels of package herald to status codes, and [Write] and [Text] answer
// with a one-line plain-text message that says what is wrong.
package httperr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald"
)

// Status maps an error from any layer to the HTTP status that reports it.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, herald.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, herald.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, herald.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, herald.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, herald.ErrTooManyRequests):
		return http.StatusTooManyRequests
	case errors.Is(err, herald.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errors.ErrUnsupported):
		return http.StatusNotImplemented
	case errors.Is(err, herald.ErrUnavailable), errors.Is(err, herald.ErrClosed),
		errors.Is(err, herald.ErrOverloaded), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, herald.ErrNotHeld):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

// Retry wraps Err with how long a client should wait before it tries again:
// [Write] sends it as the Retry-After header.
type Retry struct {
	Err   error
	After time.Duration
}

func (r *Retry) Error() string { return r.Err.Error() }
func (r *Retry) Unwrap() error { return r.Err }

// RetryAfter returns err wrapped with a Retry-After of d.
func RetryAfter(err error, d time.Duration) error { return &Retry{Err: err, After: d} }

// Write answers with the status of err and its message, without the prefix
// of the sentinel it wraps ("herald: invalid: "), and with Retry-After when
// err carries one (see [Retry]).
func Write(w http.ResponseWriter, err error) {
	if r, ok := errors.AsType[*Retry](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((r.After+time.Second-1)/time.Second))))
	}
	Text(w, Status(err), "%s", Reason(err))
}

// Reason is err's message without the "herald: <kind>: " prefix of the
// shared sentinel it wraps, as a client is told it.
func Reason(err error) string {
	msg := err.Error()
	for _, s := range sentinels {
		if rest, ok := strings.CutPrefix(msg, s.Error()+": "); ok {
			return rest
		}
	}
	return msg
}

var sentinels = []error{
	herald.ErrInvalid, herald.ErrUnauthorized, herald.ErrForbidden, herald.ErrTooLarge,
	herald.ErrTooManyRequests, herald.ErrOverloaded, herald.ErrUnavailable, herald.ErrClosed, herald.ErrNotHeld,
	herald.ErrConflict,
}

// Text answers with status and a one-line plain-text message. Headers set
// for a stream (Last-Event-ID, Mercure-Last-Event-ID, X-Accel-Buffering)
// are dropped.
func Text(w http.ResponseWriter, status int, format string, args ...any) {
	h := w.Header()
	h.Del("Last-Event-ID")
	h.Del("Mercure-Last-Event-ID")
	h.Del("X-Accel-Buffering")
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="mercure"`)
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}
