package eventsource

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var (
	// ErrNoContent ends a sequence when the server answers 204 No Content:
	// the standard's way for a server to tell a client to stop reconnecting.
	// It is the end of the stream, not a failure.
	ErrNoContent = errors.New("eventsource: server ended the stream (204 No Content)")

	// ErrInvalidRequest is wrapped by the error that ends a sequence before
	// any connection when the request can never be sent: nil URL, a scheme
	// other than http or https, no host, an invalid header, or a body
	// without GetBody (which every reconnection needs to send the body
	// again).
	ErrInvalidRequest = errors.New("eventsource: invalid request")

	// ErrGaveUp is wrapped, together with the last failure, by the error
	// that ends a sequence when [Reconnect.MaxRetries] reconnections in a
	// row failed.
	ErrGaveUp = errors.New("eventsource: gave up reconnecting")

	// ErrStreamEnded is reported in [StateChange.Err] when the server ended
	// the response body cleanly; the client reconnects.
	ErrStreamEnded = errors.New("eventsource: server closed the stream")

	// ErrReadTimeout is wrapped by the error reported in [StateChange.Err]
	// when no byte arrived for [Reconnect.ReadTimeout]; the client drops the
	// connection and reconnects.
	ErrReadTimeout = errors.New("eventsource: read timeout")

	// ErrRestarted is reported in [StateChange.Err] when [Stream.Restart]
	// ended the connection or attempt; the client connects again at once.
	ErrRestarted = errors.New("eventsource: restarted by the caller")
)

const (
	// maxErrorBody is how much of a non-200 response body a StatusError
	// keeps.
	maxErrorBody = 1024
	// maxErrorBodyWait is how long the client waits for those bytes.
	maxErrorBodyWait = time.Second
)

// StatusError ends a sequence when the server answers with a status other
// than 200 OK and 204 No Content (after redirects). The standard forbids
// reconnecting after it; [Reconnect.RetryTransient] makes the client retry
// some statuses instead, and report them in [StateChange.Err].
type StatusError struct {
	// Code is the status code, e.g. 401.
	Code int
	// Status is the status line's text, e.g. "401 Unauthorized".
	Status string
	// Header holds the response's headers (WWW-Authenticate, Retry-After).
	Header http.Header
	// Body holds the first bytes (at most 1 KiB) of the response body, for
	// error messages, when the response declared its length
	// (Content-Length), and what of those arrived within a second. A body
	// of unknown length, such as a stream answered with the wrong status,
	// is not read: the connection is closed at once.
	Body []byte
}

// Error returns "eventsource: server responded " and the status.
func (e *StatusError) Error() string {
	return "eventsource: server responded " + e.Status
}

// ContentTypeError ends a sequence when a 200 response's media type is not
// text/event-stream. The standard forbids reconnecting after it.
type ContentTypeError struct {
	// ContentType is the response's Content-Type header as sent.
	ContentType string
}

// Error names the Content-Type the server sent.
func (e *ContentTypeError) Error() string {
	return fmt.Sprintf("eventsource: response Content-Type is %q, want text/event-stream", e.ContentType)
}

// gaveUpError ends a sequence when Reconnect.MaxRetries reconnections in a
// row failed. It wraps ErrGaveUp and the last failure.
type gaveUpError struct {
	failures int
	last     error
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("%v after %d failed attempts in a row: %s", ErrGaveUp, e.failures, strings.TrimPrefix(e.last.Error(), "eventsource: "))
}

func (e *gaveUpError) Unwrap() []error { return []error{ErrGaveUp, e.last} }
