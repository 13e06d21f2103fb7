package sse

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// AppendEvent appends the wire form of ev to dst and returns the extended
// slice. The fields are written in the order id, event, retry, data, each as
// "name: value" (or "name:" for an empty value), and the event ends with a
// blank line, so a receiver dispatches it as soon as it arrives. Data is
// split on LF, CR and CRLF into one "data" line per line; empty Data is
// written as one empty "data" line, so the event still dispatches.
//
// AppendEvent returns dst unchanged and an error wrapping [ErrInvalidField],
// naming the field, when ev.ID or ev.Type holds CR, LF or NUL, or when
// ev.ResetID is set together with a non-empty ev.ID. It does not allocate
// when dst has room for the event.
//
// Data is written as given: bytes that are not valid UTF-8 reach a receiver
// as U+FFFD.
func AppendEvent(dst []byte, ev Event) ([]byte, error) {
	if err := checkField("id", ev.ID); err != nil {
		return dst, err
	}
	if err := checkField("event", ev.Type); err != nil {
		return dst, err
	}
	if ev.ResetID && ev.ID != "" {
		return dst, fmt.Errorf("%w: id: ResetID is set together with the non-empty id %q", ErrInvalidField, ev.ID)
	}
	if ev.ID != "" {
		dst = appendField(dst, "id: ", ev.ID)
	} else if ev.ResetID {
		dst = append(dst, "id:\n"...)
	}
	if ev.Type != "" {
		dst = appendField(dst, "event: ", ev.Type)
	}
	if ev.Retry > 0 {
		ms := int64(ev.Retry / time.Millisecond)
		if ms == 0 {
			ms = 1
		}
		dst = append(dst, "retry: "...)
		dst = strconv.AppendInt(dst, ms, 10)
		dst = append(dst, '\n')
	}
	dst = appendLines(dst, "data", ev.Data)
	return append(dst, '\n'), nil
}

// AppendComment appends text as comment lines to dst and returns the extended
// slice: one ": line" per line of text (split on LF, CR and CRLF), or a lone
// ":" line for empty text. Receivers ignore comments; servers send them as
// heartbeats to keep connections open. A comment does not end an event, so
// it is best written between events.
func AppendComment(dst []byte, text string) []byte {
	return appendLines(dst, "", text)
}

// checkField reports an error wrapping ErrInvalidField when value, the value
// of the field name, holds CR, LF or NUL.
func checkField(name, value string) error {
	for i := 0; i < len(value); i++ {
		if c := value[i]; c <= '\r' && (c == '\r' || c == '\n' || c == 0) {
			return fmt.Errorf("%w: %s must not contain CR, LF or NUL, found %q at byte %d", ErrInvalidField, name, c, i)
		}
	}
	return nil
}

// appendField appends prefix, value and LF; value is not empty.
func appendField(dst []byte, prefix, value string) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, value...)
	return append(dst, '\n')
}

// appendLines appends one "name: line" line per line of text, split on LF,
// CR and CRLF, writing "name:" alone for an empty line.
func appendLines(dst []byte, name, text string) []byte {
	lf := -1 // index in text of the next LF at or after the current line, or len(text) if none
	for {
		if lf < 0 {
			if lf = strings.IndexByte(text, '\n'); lf < 0 {
				lf = len(text)
			}
		}
		end, next := lf, lf+1
		if cr := strings.IndexByte(text[:lf], '\r'); cr >= 0 {
			end, next = cr, cr+1
			if cr+1 == lf && lf < len(text) { // CRLF
				next = lf + 1
			}
		}
		dst = append(dst, name...)
		dst = append(dst, ':')
		if end > 0 {
			dst = append(dst, ' ')
			dst = append(dst, text[:end]...)
		}
		dst = append(dst, '\n')
		if next > len(text) {
			return dst
		}
		text = text[next:]
		if lf -= next; lf < 0 {
			lf = -1
		}
	}
}

// Encoder writes events and comments to an io.Writer. Each call to Encode or
// Comment makes exactly one Write call with the complete event or comment;
// the Encoder reuses an internal buffer, so it does not allocate in steady
// state. An Encoder is not safe for concurrent use.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
}

// Encode writes ev as [AppendEvent] encodes it. It writes nothing and returns
// an error wrapping [ErrInvalidField] when ev cannot be encoded, and returns
// the writer's error otherwise.
func (e *Encoder) Encode(ev Event) error {
	b, err := AppendEvent(e.buf[:0], ev)
	if err != nil {
		return err
	}
	e.buf = b
	_, err = e.w.Write(b)
	return err
}

// Comment writes text as comment lines, as [AppendComment] encodes it, and
// returns the writer's error.
func (e *Encoder) Comment(text string) error {
	e.buf = AppendComment(e.buf[:0], text)
	_, err := e.w.Write(e.buf)
	return err
}

// Flush flushes the underlying writer when it has a Flush() error method
// (such as *bufio.Writer) or a Flush() method (such as http.Flusher), and
// returns its error; otherwise it does nothing and returns nil. For an
// http.ResponseWriter wrapped by middleware that hides Flush, use
// http.ResponseController instead.
func (e *Encoder) Flush() error {
	switch f := e.w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}
