package eventsource

import (
	"context"
	"iter"
	"net/http"

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
// done or a fatal error. It is c.Stream(req).Events(ctx), for callers that
// never restart the stream on purpose.
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
	return c.Stream(req).Events(ctx)
}
