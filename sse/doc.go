// Package sse reads and writes the Server-Sent Events wire format
// (text/event-stream) exactly as the WHATWG HTML standard defines it in
// "Server-sent events", sections "Parsing an event stream" and "Interpreting
// an event stream".
//
// [Encoder] and [AppendEvent] write events; they refuse an id or event type
// that holds CR, LF or NUL (so no caller can inject a field) and split data on
// every line break, so what a browser's EventSource dispatches is exactly the
// [Event] that was encoded, with line breaks in Data normalised to LF.
//
// [Decoder] reads a stream incrementally from any [io.Reader], however the
// bytes are chunked, and yields the events an EventSource would dispatch, with
// the same last event ID, event type and reconnection time; on request
// ([Decoder.OnComment]) it also reports comment lines. It holds about
// twice [Decoder.MaxEventSize] bytes at most, however long a line is, and
// fails with [ErrEventTooLarge] instead of holding more.
//
// The encoder is built for a hub that sends each event to many subscribers:
// [AppendEvent] encodes an event once into bytes that can be shared, and an
// [Encoder] does not allocate per event. The decoder allocates once per
// event (its data and new id together) and finds line ends with
// [bytes.IndexByte].
//
// The package imports only the standard library.
package sse
