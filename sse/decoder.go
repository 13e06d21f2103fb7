package sse

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxEventSize is the MaxEventSize a [Decoder] applies when its field
// is zero or negative: 4 MiB, enough for megabyte payloads while bounding the
// memory a hostile or broken stream can make a client hold.
const DefaultMaxEventSize = 4 << 20

// initialBufSize is the size of a Decoder's read buffer until a line needs
// more.
const initialBufSize = 4096

// maxEmptyReads is how many successive empty reads without an error the
// Decoder tolerates before it reports io.ErrNoProgress.
const maxEmptyReads = 100

// Decoder reads events from a text/event-stream, following the WHATWG HTML
// standard's "Parsing an event stream" and "Interpreting an event stream"
// exactly: lines end with CRLF, LF or a lone CR (also when the CR and LF of a
// CRLF arrive in different reads); a leading UTF-8 byte order mark is
// removed once; bytes that are not valid UTF-8 decode to U+FFFD as the
// Encoding standard's UTF-8 decoder does; comments and unknown fields are
// ignored. A Decoder buffers its input itself and reads from its reader only
// when it needs more bytes to complete a line, so it returns each event as
// soon as the blank line that ends it has arrived.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	// MaxEventSize bounds the memory one event can make the Decoder hold:
	// Decode fails with an error wrapping [ErrEventTooLarge] when the length
	// of a line (counted in bytes as read, without its line ending, even
	// before the line is complete) plus the length of the event's data
	// gathered so far (one LF per data line included) exceeds it. Zero or a
	// negative value means [DefaultMaxEventSize]. Set it before the first
	// call to Decode.
	MaxEventSize int

	r       io.Reader
	buf     []byte
	rpos    int   // start of the unread bytes in buf
	wpos    int   // end of the bytes read into buf
	lfAt    int   // index of the next LF in buf if >= rpos; stale or none if < rpos
	lfScan  int   // buf[rpos:lfScan] was searched for LF: none but at lfAt
	crAt    int   // as lfAt, for CR
	crScan  int   // as lfScan, for CR
	readErr error // error of the last read, reported once buf is consumed
	err     error // sticky error returned by Decode
	bomDone bool  // the start of the stream was checked for a byte order mark
	skipLF  bool  // the last line ended with CR: skip an LF that follows

	// The event being gathered.
	data      []byte // the data buffer, lines joined by LF, without the final LF
	first     []byte // the first data line's value, still in buf (dataLines == 1 && inBuf)
	inBuf     bool   // the data is in first, not in data
	dataLines int    // number of data lines in this event
	dataLen   int    // length of the standard's data buffer (with one LF per line)
	typ       string // event type buffer
	typCache  string // last event type seen, reused to avoid allocations
	idBuf     string // last event ID buffer, unless idNew
	idNew     bool   // an id field set the buffer to idBytes, not yet a string
	idBytes   []byte // the new last event ID buffer when idNew
	retry     time.Duration
	hasRetry  bool
	lastID    string        // last event ID string
	evRetry   time.Duration // retry set in this event's block
}

// NewDecoder returns a Decoder that reads from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, lfAt: -1, crAt: -1}
}

// SetMaxEventSize sets d.MaxEventSize to n; it is the same as assigning the
// field.
func (d *Decoder) SetMaxEventSize(n int) {
	d.MaxEventSize = n
}

// LastEventID returns the stream's last event ID string as it is now: the
// value of the last "id" field (without NUL) seen before the most recent
// blank line, or "" if none or if it was reset by an empty "id". It is
// updated at every blank line, also by blocks that dispatch no event, which
// is the value a client sends as Last-Event-ID when it reconnects.
func (d *Decoder) LastEventID() string {
	return d.lastID
}

// Retry returns the reconnection time set by the latest valid "retry" field
// read so far anywhere in the stream (also in a block that dispatched no
// event, or whose event is not complete yet), and whether there was one.
// Values too large for a time.Duration are clamped to the largest one.
func (d *Decoder) Retry() (time.Duration, bool) {
	return d.retry, d.hasRetry
}

// Decode reads until the next event the stream dispatches and returns it.
// At the end of the stream it returns io.EOF, discarding an event whose
// terminating blank line never came. It returns the reader's other errors
// as they are, and an error wrapping [ErrEventTooLarge] when the event
// exceeds MaxEventSize. After an error, every later call returns the same
// error.
func (d *Decoder) Decode() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	for {
		line, err := d.readLine()
		if err != nil {
			d.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := d.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if err := d.processLine(line); err != nil {
			d.err = err
			return Event{}, err
		}
	}
}

func (d *Decoder) maxSize() int {
	if d.MaxEventSize <= 0 {
		return DefaultMaxEventSize
	}
	return d.MaxEventSize
}

func (d *Decoder) tooLarge() error {
	return fmt.Errorf("%w: a line plus the event's data exceed MaxEventSize (%d bytes)", ErrEventTooLarge, d.maxSize())
}

// readLine returns the next complete line without its line ending. The line
// is valid until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	for {
		if d.skipLF && d.rpos < d.wpos {
			if d.buf[d.rpos] == '\n' {
				d.rpos++
			}
			d.skipLF = false
		}
		if !d.bomDone {
			d.checkBOM()
		}
		if d.bomDone && !d.skipLF {
			if line, ok := d.scanLine(); ok {
				return line, nil
			}
		}
		if err := d.fill(); err != nil {
			return nil, err
		}
	}
}

// checkBOM removes a byte order mark at the start of the stream, or marks the
// check done when the first bytes cannot be one.
func (d *Decoder) checkBOM() {
	const bom = "\xEF\xBB\xBF"
	p := d.buf[d.rpos:d.wpos]
	for i := 0; i < len(p) && i < len(bom); i++ {
		if p[i] != bom[i] {
			d.bomDone = true
			return
		}
	}
	if len(p) >= len(bom) {
		d.rpos += len(bom)
		d.bomDone = true
	}
}

// scanLine returns the next line in buf, if buf holds a complete one. It
// searches each byte at most once for LF and once for CR, remembering where
// the next of each is, so a line costs little more than one short
// bytes.IndexByte whatever the line endings are.
func (d *Decoder) scanLine() ([]byte, bool) {
	if d.lfAt < d.rpos && d.lfScan < d.wpos {
		from := max(d.rpos, d.lfScan)
		if i := bytes.IndexByte(d.buf[from:d.wpos], '\n'); i >= 0 {
			d.lfAt, d.lfScan = from+i, from+i+1
		} else {
			d.lfAt, d.lfScan = -1, d.wpos
		}
	}
	if d.crAt < d.rpos && d.crScan < d.wpos {
		from := max(d.rpos, d.crScan)
		if i := bytes.IndexByte(d.buf[from:d.wpos], '\r'); i >= 0 {
			d.crAt, d.crScan = from+i, from+i+1
		} else {
			d.crAt, d.crScan = -1, d.wpos
		}
	}
	if d.crAt >= d.rpos && (d.crAt < d.lfAt || d.lfAt < d.rpos) {
		line := d.buf[d.rpos:d.crAt]
		d.rpos = d.crAt + 1
		d.skipLF = true
		return line, true
	}
	if d.lfAt >= d.rpos {
		line := d.buf[d.rpos:d.lfAt]
		d.rpos = d.lfAt + 1
		return line, true
	}
	return nil, false
}

// fill reads more bytes into buf, making room first. It returns an error
// when the partial line in buf is already too large or the reader fails.
func (d *Decoder) fill() error {
	if d.bomDone && d.wpos-d.rpos+d.dataLen > d.maxSize() {
		return d.tooLarge()
	}
	if d.readErr != nil {
		return d.readErr
	}
	if d.buf == nil {
		d.buf = make([]byte, initialBufSize)
	}
	if d.rpos > 0 {
		if d.inBuf {
			d.data = append(d.data[:0], d.first...)
			d.first, d.inBuf = nil, false
		}
		n := copy(d.buf, d.buf[d.rpos:d.wpos])
		d.lfAt, d.crAt = d.lfAt-d.rpos, d.crAt-d.rpos
		d.lfScan, d.crScan = max(d.lfScan-d.rpos, 0), max(d.crScan-d.rpos, 0)
		d.rpos, d.wpos = 0, n
	}
	if d.wpos == len(d.buf) {
		nb := make([]byte, 2*len(d.buf))
		copy(nb, d.buf[:d.wpos])
		d.buf = nb
	}
	for range maxEmptyReads {
		n, err := d.r.Read(d.buf[d.wpos:])
		d.wpos += n
		if err != nil {
			d.readErr = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// processLine interprets a non-empty line.
func (d *Decoder) processLine(line []byte) error {
	if len(line)+d.dataLen > d.maxSize() {
		return d.tooLarge()
	}
	if line[0] == ':' {
		return nil // comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		d.addData(value)
	case "event":
		if !utf8.Valid(value) {
			value = appendUTF8(nil, value)
		}
		if string(value) != d.typCache {
			d.typCache = string(value)
		}
		d.typ = d.typCache
	case "id":
		if bytes.IndexByte(value, 0) >= 0 {
			break
		}
		if utf8.Valid(value) {
			d.idBytes = append(d.idBytes[:0], value...)
		} else {
			d.idBytes = appendUTF8(d.idBytes[:0], value)
		}
		// The string is made at the blank line, together with the data.
		d.idNew = string(d.idBytes) != d.idBuf
	case "retry":
		if ms, ok := parseDigits(value); ok {
			r := time.Duration(math.MaxInt64)
			if ms <= math.MaxInt64/int64(time.Millisecond) {
				r = time.Duration(ms) * time.Millisecond
			}
			d.retry, d.hasRetry, d.evRetry = r, true, r
		}
	}
	return nil
}

// parseDigits parses p as a base-ten integer when it is not empty and holds
// only ASCII digits, saturating at math.MaxInt64.
func parseDigits(p []byte) (int64, bool) {
	if len(p) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// addData appends a data line's value to the data buffer.
func (d *Decoder) addData(value []byte) {
	valid := utf8.Valid(value)
	if d.dataLines == 0 && valid {
		d.first, d.inBuf = value, true
		d.dataLines, d.dataLen = 1, len(value)+1
		return
	}
	if d.inBuf {
		d.data = append(d.data[:0], d.first...)
		d.first, d.inBuf = nil, false
	}
	if d.dataLines > 0 {
		d.data = append(d.data, '\n')
	} else {
		d.data = d.data[:0]
	}
	if valid {
		d.data = append(d.data, value...)
	} else {
		d.data = appendUTF8(d.data, value)
	}
	d.dataLines++
	d.dataLen = len(d.data) + 1
}

// mergeMax is the longest data that dispatch allocates together with a new
// event id, in one string. The id then keeps the data's memory alive until
// the next id, so it is kept small.
const mergeMax = 1024

// dispatch handles a blank line: it returns the event to dispatch, if any,
// and resets the event's buffers.
func (d *Decoder) dispatch() (Event, bool) {
	retry := d.evRetry
	d.evRetry = 0
	if d.dataLines == 0 {
		if d.idNew {
			d.idBuf, d.idNew = string(d.idBytes), false
		}
		d.lastID = d.idBuf
		d.typ = ""
		return Event{}, false
	}
	raw := d.data
	if d.inBuf {
		raw = d.first
	}
	var data string
	if d.idNew && len(raw) <= mergeMax {
		// One allocation for both strings: events usually carry a new id.
		var sb strings.Builder
		sb.Grow(len(d.idBytes) + len(raw))
		sb.Write(d.idBytes)
		sb.Write(raw)
		s := sb.String()
		d.idBuf, data = s[:len(d.idBytes)], s[len(d.idBytes):]
	} else {
		if d.idNew {
			d.idBuf = string(d.idBytes)
		}
		data = string(raw)
	}
	d.idNew = false
	d.lastID = d.idBuf
	typ := d.typ
	if typ == "" {
		typ = "message"
	}
	d.first, d.inBuf = nil, false
	d.data = d.data[:0]
	d.dataLines, d.dataLen = 0, 0
	d.typ = ""
	return Event{ID: d.lastID, Type: typ, Data: data, Retry: retry}, true
}
