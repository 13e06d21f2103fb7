package sse

import (
	"errors"
	"time"
)

// Event is one event of a text/event-stream.
//
// The zero Event encodes as a single empty "data" line and so dispatches a
// "message" event with empty data.
type Event struct {
	// ID is the event id. Encode writes an "id" field when ID is not empty;
	// it must not contain CR, LF or NUL. Decode sets it to the last event ID
	// in force when the event was dispatched, which persists across events
	// until the stream sets another one.
	ID string
	// ResetID, on encode only, writes an empty "id" field, which resets the
	// receiver's last event ID. It is an error to set it together with ID.
	// Decode never sets it.
	ResetID bool
	// Type is the event type. Encode writes an "event" field when Type is not
	// empty; it must not contain CR, LF or NUL. Decode sets it to "message"
	// when the event's block set no type (or an empty one).
	Type string
	// Data is the payload. It may contain LF, CR or CRLF: Encode writes one
	// "data" line per line of Data, and Decode joins the lines with LF.
	Data string
	// Retry is the reconnection time. Encode writes a "retry" field, in whole
	// milliseconds (at least 1), when Retry > 0. Decode sets it to the value
	// of the last valid "retry" field in the event's block, else 0.
	Retry time.Duration
}

var (
	// ErrInvalidField is wrapped by the error [AppendEvent] and
	// [Encoder.Encode] return for an event they refuse to write: an ID or
	// Type holding CR, LF or NUL, or ResetID set together with an ID. The
	// error message names the field.
	ErrInvalidField = errors.New("sse: invalid field")
	// ErrEventTooLarge is wrapped by the error [Decoder.Decode] returns when a
	// line, or an event's data plus the line being read, exceeds the
	// decoder's MaxEventSize.
	ErrEventTooLarge = errors.New("sse: event too large")
)
