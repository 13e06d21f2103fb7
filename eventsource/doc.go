// Package eventsource consumes Server-Sent Events streams from Go the way a
// browser's EventSource does, as the WHATWG HTML standard ("Server-sent
// events", "Processing model") defines it, plus what long-running programs
// need on top: exponential backoff with jitter, a read timeout for streams
// that went silent, a hook to refresh credentials before each attempt, the
// headers of every response, and state notifications.
//
//	req, _ := http.NewRequest("GET", "https://example.com/events", nil)
//	var c eventsource.Client
//	for ev, err := range c.Events(ctx, req) {
//		if err != nil {
//			return err // fatal: the client will not reconnect
//		}
//		fmt.Println(ev.Type, ev.ID, ev.Data)
//	}
//
// # What it does as the standard says
//
// Every attempt sends the request with the headers a browser's EventSource
// sends (each unless the request sets it): "Accept: text/event-stream", and
// "Cache-Control: no-cache" and "Pragma: no-cache", which is how the Fetch
// standard sends the cache mode "no-store" that the HTML standard sets; and,
// once the stream has set a last event ID, "Last-Event-ID". A 200 response
// whose media type is text/event-stream (parameters such as charset allowed)
// opens the stream; events are decoded by [sse.Decoder]. When the stream
// ends or breaks, an event whose blank line never arrived is dropped and the
// client reconnects after the reconnection time, which the server may change
// with "retry:". HTTP 204 No Content ends the sequence with [ErrNoContent];
// any other status ends it with a [*StatusError], a wrong Content-Type with
// a [*ContentTypeError]: the client never reconnects after those (unless
// [Reconnect.RetryTransient] says otherwise, see below). Such a failure
// closes the connection without reading a body of unknown length, so a
// refused response whose body never ends cannot hold the client.
//
// The last event ID persists across reconnections, as in browsers: an event
// of a new connection that carries no "id" field reports the ID of the last
// connection, and a server resets it with an empty "id" field.
//
// # Redirects
//
// Redirects are followed by the [http.Client], as a browser's fetch follows
// them, and every reconnection starts again from the original URL. Go copies
// the request's headers to each hop (so Accept, Last-Event-ID and custom
// headers survive), except that Authorization, Cookie and the other
// credential headers are dropped when a hop leaves the original host and its
// subdomains, as browsers do for cross-origin redirects. 301, 302 and 303
// turn a POST into a GET without body; 307 and 308 keep the method and body.
//
// # Beyond the browser
//
// [Reconnect] holds the whole reconnection policy: the initial reconnection
// time (zero with [NoDelay]), exponential backoff with jitter after repeated
// failures (reset once a connection proved healthy), a cap, a read timeout
// and an optional limit on attempts. [Client.BeforeConnect] runs before
// every attempt, and [Client.OnStateChange] reports each state change with
// the response of every opened connection, for example to read the
// Last-Event-ID response header with which a Mercure hub says where it
// resumed. [Client.OnComment] receives the comment lines (heartbeats) that
// browsers ignore.
//
// With [Reconnect.RetryTransient] (off by default, as in browsers), the
// statuses that say a refusal is temporary are retried with the same backoff
// and jitter instead of ending the sequence: 502, 503 and 504, which a proxy
// answers while the server behind it restarts, and 429 Too Many Requests;
// their Retry-After header is honoured. A long-running program should set
// it, so that a deploy behind nginx does not stop it for good.
//
// [Client.Stream] returns a [Stream], whose [Stream.Restart] makes the
// client drop its connection and connect again at once, keeping the last
// event ID and the reconnection policy: to send new credentials
// (BeforeConnect builds every attempt's request) or to give a proxy a new
// connection.
//
// The package imports only the standard library and
// [github.com/herald-sse/herald/sse].
package eventsource
