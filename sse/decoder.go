package sse

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// DefaultMaxEventSize is the MaxEventSize a [Decoder] applies when its field
// is zero or negative: 4 MiB, enough for megabyte payloads while bounding the
// memory a hostile or broken stream can make a client hold.
const DefaultMaxEventSize = 4 << 20

const (
	// initialBufSize is the size of a Decoder's read buffer until a line
	// needs more.
	initialBufSize = 4096
	// maxEmptyReads is how many successive empty reads without an error the
	// Decoder tolerates before it reports io.ErrNoProgress.
	maxEmptyReads = 100
	// mergeMax is the longest data that is allocated together with a new
	// event id, in one string. The id then keeps the data's memory alive
	// until the next id arrives, so it is kept small.
	mergeMax = 1024
)

// Decoder reads events from a text/event-stream, following the WHATWG HTML
// standard's "Parsing an event stream" and "Interpreting an event stream"
// exactly: lines end with CRLF, LF or a lone CR (also when the CR and LF of a
// CRLF arrive in different reads); a leading UTF-8 byte order mark is
// removed once; bytes that are not valid UTF-8 decode to U+FFFD as the
// Encoding standard's UTF-8 decoder does (one per maximal subpart of an
// ill-formed sequence); unknown fields are ignored, and so are comments
// unless OnComment is set. A Decoder buffers its input itself and reads from
// its reader only when it needs more bytes to complete a line, so it returns
// each event as soon as the blank line that ends it has arrived.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	// MaxEventSize bounds the memory one event can make the Decoder hold:
	// Decode fails with an error wrapping [ErrEventTooLarge] when the length
	// of a line (without its line ending, even before the line is complete)
	// plus the length of the event's data gathered so far (one LF per data
	// line included) exceeds it, both counted in bytes as read. The limit is
	// enforced the same way however the stream is split into reads. The
	// Decoder holds at most about twice MaxEventSize bytes (its read buffer
	// and the data), more only when invalid UTF-8 expands to U+FFFD, and
	// fails as soon as a line exceeds the limit. Zero or a negative value means
	// [DefaultMaxEventSize]. Set it before the first call to Decode.
	MaxEventSize int

	// OnComment, when not nil, is called with the text of every comment
	// line (a line that starts with a colon) during the Decode call that
	// reads it, so in the stream's order relative to the events: the text
	// after the colon without one leading space (as for a field's value),
	// with invalid UTF-8 replaced as in values. It must not call the
	// Decoder's methods. Nil, the default, ignores comments, as an
	// EventSource does. A comment line counts against MaxEventSize as any
	// line does. Set it before the first call to Decode.
	OnComment func(text string)

	r       io.Reader
	buf     []byte
	rpos    int   // start of the unread bytes in buf
	wpos    int   // end of the bytes read into buf
	lfAt    int   // index in buf of the next LF if >= rpos; if < rpos, stale or none
	lfScan  int   // buf[rpos:lfScan] holds no LF except at lfAt
	crAt    int   // as lfAt, for CR
	crScan  int   // as lfScan, for CR
	validTo int   // buf[rpos:validTo] is valid UTF-8
	readErr error // error of the last read, reported once buf is consumed
	err     error // sticky error returned by Decode
	bomDone bool  // the start of the stream was checked for a byte order mark
	skipLF  bool  // the last line ended with CR: skip an LF that follows
	lfOnly  bool  // buf[rpos:wpos] holds no CR, !skipLF, bomDone: lines end at LF

	// The event being gathered.
	data       []byte // the data buffer, lines joined by LF, without the final LF
	firstStart int    // buf[firstStart:firstEnd] is the data when inBuf
	firstEnd   int
	inBuf      bool          // the data is one valid line still in buf, not in data
	dataLines  int           // number of data lines in this event
	dataLen    int           // bytes read for the data buffer: each line's value as read, plus one
	typ        string        // the last event type seen, reused to avoid allocations
	hasType    bool          // this event's block set the event type buffer to typ
	evRetry    time.Duration // retry set in this event's block

	// The stream's state.
	lastID   string // the last event ID string, and the buffer unless idNew
	idNew    bool   // an id field set the last event ID buffer to idBytes (maybe unchanged)
	idBytes  []byte
	retry    time.Duration
	hasRetry bool
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
// value of the last "id" field (without NUL) read before the most recent
// blank line, or "" if there was none or an empty one reset it. It is
// updated at every blank line, also by blocks that dispatch no event; it is
// what a client sends as Last-Event-ID when it reconnects.
func (d *Decoder) LastEventID() string {
	return d.lastID
}

// SetLastEventID sets the stream's last event ID string to id, as an
// EventSource carries it over from its previous connection: events
// dispatched before the stream sets an id of its own carry it, and
// LastEventID reports it. An id holding NUL is ignored, as an "id" field
// holding NUL is. Call it before the first Decode.
func (d *Decoder) SetLastEventID(id string) {
	if strings.IndexByte(id, 0) >= 0 {
		return
	}
	d.lastID = id
	d.idNew = false
}

// Retry returns the reconnection time set by the latest valid "retry" field
// read so far anywhere in the stream (also in a block that dispatched no
// event, or whose blank line has not arrived yet), and whether there was
// one. A valid value is a non-empty string of ASCII digits, in milliseconds;
// values too large for a time.Duration are clamped to the largest one.
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
		var start, end int
		ok := false
		if d.lfOnly {
			// The usual case, with a single short search.
			if i := bytes.IndexByte(d.buf[d.rpos:d.wpos], '\n'); i >= 0 {
				start, end, ok = d.rpos, d.rpos+i, true
				d.rpos = end + 1
			}
		} else {
			start, end, ok = d.nextLine()
		}
		if !ok {
			if err := d.fill(); err != nil {
				d.err = err
				return Event{}, err
			}
			continue
		}
		if start == end {
			if data, ok := d.dispatch(); ok {
				typ := "message"
				if d.hasType && d.typ != "" {
					typ = d.typ
				}
				d.hasType = false
				retry := d.evRetry
				d.evRetry = 0
				return Event{ID: d.lastID, Type: typ, Data: data, Retry: retry}, nil
			}
			continue
		}
		if err := d.processLine(start, end); err != nil {
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

// nextLine returns the bounds in buf of the next complete line, without its
// line ending, if buf holds one. It searches each byte at most once for LF
// and once for CR, remembering where the next of each is, so a line costs
// little more than one short bytes.IndexByte whatever the line endings are.
func (d *Decoder) nextLine() (start, end int, ok bool) {
	if d.skipLF {
		if d.rpos == d.wpos {
			return 0, 0, false
		}
		if d.buf[d.rpos] == '\n' {
			d.rpos++
		}
		d.skipLF = false
	}
	if !d.bomDone && !d.checkBOM() {
		return 0, 0, false
	}
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
	start = d.rpos
	switch {
	case d.crAt >= d.rpos && (d.crAt < d.lfAt || d.lfAt < d.rpos):
		end = d.crAt
		d.skipLF = true
	case d.lfAt >= d.rpos:
		end = d.lfAt
	default:
		return 0, 0, false
	}
	d.rpos = end + 1
	d.lfOnly = !d.skipLF && d.crAt < d.rpos && d.crScan == d.wpos
	return start, end, true
}

// checkBOM removes a byte order mark at the start of the stream. It reports
// whether the check is done, false when buf holds too few bytes to tell.
func (d *Decoder) checkBOM() bool {
	const bom = "\xEF\xBB\xBF"
	p := d.buf[d.rpos:d.wpos]
	for i := 0; i < len(p) && i < len(bom); i++ {
		if p[i] != bom[i] {
			d.bomDone = true
			return true
		}
	}
	if len(p) < len(bom) {
		return false
	}
	d.rpos += len(bom)
	d.bomDone = true
	return true
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
			d.data = append(d.data[:0], d.buf[d.firstStart:d.firstEnd]...)
			d.inBuf = false
		}
		n := copy(d.buf, d.buf[d.rpos:d.wpos])
		d.lfAt, d.crAt, d.validTo = d.lfAt-d.rpos, d.crAt-d.rpos, d.validTo-d.rpos
		d.lfScan, d.crScan = max(d.lfScan-d.rpos, 0), max(d.crScan-d.rpos, 0)
		d.rpos, d.wpos = 0, n
	}
	if d.wpos == len(d.buf) {
		// The partial line fills buf and is not too large: grow, but not
		// much further than a line can go.
		size := 2 * len(d.buf)
		if limit := d.maxSize(); size > limit {
			size = limit + initialBufSize
		}
		nb := make([]byte, size)
		copy(nb, d.buf[:d.wpos])
		d.buf = nb
	}
	d.lfOnly = false // the new bytes may hold a CR
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

// valid reports whether buf[start:end] is valid UTF-8.
func (d *Decoder) valid(start, end int) bool {
	return end <= d.validTo || d.checkValid(start, end)
}

// checkValid reports whether buf[start:end] is valid UTF-8. It checks the
// bytes from there to the end of buf in one go and remembers in validTo how
// far they are valid, so each byte is checked about once.
func (d *Decoder) checkValid(start, end int) bool {
	// If the line has an ill-formed sequence at validTo, this stops there
	// at once.
	from := max(d.validTo, start)
	d.validTo = from + validPrefix(d.buf[from:d.wpos])
	return end <= d.validTo
}

// The fields the standard defines.
const (
	fieldData = iota + 1
	fieldEvent
	fieldID
	fieldRetry
)

// processLine interprets the non-empty line buf[start:end].
func (d *Decoder) processLine(start, end int) error {
	line := d.buf[start:end]
	if len(line)+d.dataLen > d.maxSize() {
		return d.tooLarge()
	}
	// The value is buf[vs:end]. Lines that start with a known field name
	// and a colon skip the search for the colon.
	var field, vs int
	switch {
	case line[0] == ':':
		if d.OnComment != nil {
			d.comment(start, end)
		}
		return nil
	case len(line) >= 5 && string(line[:5]) == "data:":
		field, vs = fieldData, start+5
	case len(line) >= 3 && string(line[:3]) == "id:":
		field, vs = fieldID, start+3
	case len(line) >= 6 && string(line[:6]) == "event:":
		field, vs = fieldEvent, start+6
	default:
		name := line
		vs = end
		if colon := bytes.IndexByte(line, ':'); colon >= 0 {
			name, vs = line[:colon], start+colon+1
		}
		switch string(name) {
		case "data":
			field = fieldData
		case "event":
			field = fieldEvent
		case "id":
			field = fieldID
		case "retry":
			field = fieldRetry
		default:
			return nil // unknown field
		}
	}
	if vs < end && d.buf[vs] == ' ' {
		vs++
	}
	switch field {
	case fieldData:
		d.addData(vs, end, d.valid(start, end))
	case fieldEvent:
		value := d.buf[vs:end]
		if !d.valid(start, end) {
			value = appendUTF8(nil, value)
		}
		if string(value) != d.typ {
			d.typ = string(value)
		}
		d.hasType = true
	case fieldID:
		value := d.buf[vs:end]
		if bytes.IndexByte(value, 0) >= 0 {
			break
		}
		d.idBytes = d.idBytes[:0]
		if d.valid(start, end) {
			d.idBytes = append(d.idBytes, value...)
		} else {
			d.idBytes = appendUTF8(d.idBytes, value)
		}
		// The string is made at the blank line, together with the data.
		d.idNew = true
	case fieldRetry:
		if ms, ok := parseDigits(d.buf[vs:end]); ok {
			r := time.Duration(math.MaxInt64)
			if ms <= math.MaxInt64/int64(time.Millisecond) {
				r = time.Duration(ms) * time.Millisecond
			}
			d.retry, d.hasRetry, d.evRetry = r, true, r
		}
	}
	return nil
}

// comment reports the comment line buf[start:end] to OnComment.
func (d *Decoder) comment(start, end int) {
	vs := start + 1
	if vs < end && d.buf[vs] == ' ' {
		vs++
	}
	text := d.buf[vs:end]
	if !d.valid(start, end) {
		text = appendUTF8(nil, text)
	}
	d.OnComment(string(text))
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

// addData appends the data line value buf[vs:ve] to the data buffer.
func (d *Decoder) addData(vs, ve int, valid bool) {
	if d.dataLines == 0 && valid {
		// Leave a single line where it is: dispatch copies it once.
		d.firstStart, d.firstEnd, d.inBuf = vs, ve, true
		d.dataLines, d.dataLen = 1, ve-vs+1
		return
	}
	if d.inBuf {
		d.data = append(d.data[:0], d.buf[d.firstStart:d.firstEnd]...)
		d.inBuf = false
	}
	if d.dataLines > 0 {
		d.data = append(d.data, '\n')
	} else {
		d.data = d.data[:0]
	}
	if valid {
		d.data = append(d.data, d.buf[vs:ve]...)
	} else {
		d.data = appendUTF8(d.data, d.buf[vs:ve])
	}
	d.dataLines++
	d.dataLen += ve - vs + 1
}

// setLastID sets the last event ID string to the buffer, allocating only
// when it changed.
func (d *Decoder) setLastID() {
	if d.idNew && string(d.idBytes) != d.lastID {
		d.lastID = string(d.idBytes)
	}
	d.idNew = false
}

// dispatch handles a blank line: it sets the last event ID string, returns
// the event's data and true if the data buffer is not empty, and resets the
// data buffer. The caller makes the event and resets the event type buffer
// and retry.
func (d *Decoder) dispatch() (string, bool) {
	if d.dataLines == 0 {
		d.setLastID()
		d.hasType, d.evRetry = false, 0
		return "", false
	}
	raw := d.data
	if d.inBuf {
		raw = d.buf[d.firstStart:d.firstEnd]
	}
	var data string
	if d.idNew && len(raw) <= mergeMax {
		// One allocation for both strings: events usually carry a new id.
		var sb strings.Builder
		sb.Grow(len(d.idBytes) + len(raw))
		sb.Write(d.idBytes)
		sb.Write(raw)
		s := sb.String()
		d.lastID, data = s[:len(d.idBytes)], s[len(d.idBytes):]
		d.idNew = false
	} else {
		d.setLastID()
		data = string(raw)
	}
	d.inBuf = false
	d.data = d.data[:0]
	d.dataLines, d.dataLen = 0, 0
	return data, true
}
