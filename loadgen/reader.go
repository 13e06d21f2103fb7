package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// streamReader is a minimal, allocation-free reader of an HTTP/1.x
// event-stream response: it reads the status line and headers, undoes chunked
// transfer coding in place, and splits the stream into events, keeping only
// what the load generator needs (the data of each event and the last event
// id). It reads as much as the socket holds in one call, so a write of many
// events costs one read.
//
// Simplifications, all harmless for the hubs it reads: lines end with LF or
// CRLF (a lone CR is not a line end), only the first data line of an event is
// kept, and field names other than "id" and "data" are ignored.
type streamReader struct {
	r   io.Reader
	buf []byte
	max int // largest buffer it may grow to

	pend  int // buf[:pend] is stream text not yet consumed (a partial event)
	raw   int // buf[raw:end] is bytes read but not yet de-chunked (raw >= pend)
	end   int
	scan  int // where the next line scan starts (<= pend)
	block int // start of the partial event in buf[:pend]

	chunked   bool
	cstate    uint8
	chunkLeft int
	eof       bool // the final chunk was read
	primed    bool // fill has run once
	err       error

	data    []byte // data of the event being parsed (slice of buf)
	hasData bool
	lastID  []byte // the last event id in force at a dispatch (owned copy)
	idSeen  []byte // the id in force at the last dispatch in buf, copied to lastID by compact
	idSet   bool
	curID   []byte // the id field of the event being parsed
	curSet  bool
}

const (
	csSize uint8 = iota
	csData
	csDataEnd
)

var errLineTooLong = errors.New("loadgen: an event is larger than the read buffer limit")

func newStreamReader(r io.Reader, size, max int) *streamReader {
	return &streamReader{r: r, buf: make([]byte, size), max: max}
}

// response is the head of an HTTP response.
type response struct {
	status      int
	chunked     bool
	lastEventID string // the Last-Event-ID header (Mercure: the hub's last event; Mercure-Last-Event-ID in draft 08)
}

// readHead reads the status line and headers. Bytes read past them stay in
// the buffer for next.
func (s *streamReader) readHead() (response, error) {
	var resp response
	for {
		if i := bytes.Index(s.buf[:s.end], []byte("\r\n\r\n")); i >= 0 {
			if err := parseHead(s.buf[:i], &resp); err != nil {
				return resp, err
			}
			rest := copy(s.buf, s.buf[i+4:s.end])
			s.pend, s.raw, s.end, s.scan, s.block = 0, 0, rest, 0, 0
			s.chunked = resp.chunked
			return resp, nil
		}
		if s.end == len(s.buf) {
			return resp, errors.New("loadgen: response headers are too large")
		}
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil && n == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return resp, err
		}
	}
}

func parseHead(head []byte, resp *response) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// HTTP/1.1 200 OK
	_, after, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(after) < 3 {
		return fmt.Errorf("loadgen: malformed status line %q", line)
	}
	code, err := strconv.Atoi(string(after[:3]))
	if err != nil {
		return fmt.Errorf("loadgen: malformed status line %q", line)
	}
	resp.status = code
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			resp.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Last-Event-ID")), bytes.EqualFold(name, []byte("Mercure-Last-Event-ID")): // draft 07, draft 08
			resp.lastEventID = string(bytes.TrimSpace(value))
		}
	}
	return nil
}

// errorBody returns the start of an error response's body: what was read
// with the head, or else what one more read brings.
func (s *streamReader) errorBody() string {
	if s.end == 0 {
		n, _ := s.r.Read(s.buf[:min(len(s.buf), 512)])
		s.end = n
	}
	b := s.buf[:min(s.end, 512)]
	if s.chunked {
		if _, after, ok := bytes.Cut(b, []byte("\r\n")); ok {
			b = after
		}
	}
	return string(bytes.TrimSpace(b))
}

// fill reads once from the stream into the buffer; the first call reads
// nothing (readHead may have read past the headers already). err is the
// read's error, to be returned by the next call to process.
func (s *streamReader) fill() {
	if !s.primed {
		s.primed = true
		return
	}
	if s.end == len(s.buf) {
		if s.err = s.grow(); s.err != nil {
			return
		}
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	s.err = err
}

// process passes every complete event read so far to fn (its data, or nil
// for an event without data). It returns the error of the last fill, io.EOF
// at the end of the stream.
func (s *streamReader) process(fn func(data []byte)) error {
	if err := s.dechunk(); err != nil {
		return err
	}
	s.events(fn)
	s.compact()
	if s.eof {
		return io.EOF
	}
	err := s.err
	s.err = nil
	return err
}

// reset prepares the reader for a new response on r, keeping the buffer and
// the last event id.
func (s *streamReader) reset(r io.Reader) {
	*s = streamReader{r: r, buf: s.buf, max: s.max, lastID: s.lastID}
}

// dechunk turns buf[raw:end] into stream text appended at buf[pend:].
func (s *streamReader) dechunk() error {
	if !s.chunked {
		s.pend, s.raw = s.end, s.end
		return nil
	}
	rd, w := s.raw, s.pend
loop:
	for rd < s.end && !s.eof {
		switch s.cstate {
		case csData:
			n := min(s.chunkLeft, s.end-rd)
			if w != rd {
				copy(s.buf[w:], s.buf[rd:rd+n])
			}
			w += n
			rd += n
			s.chunkLeft -= n
			if s.chunkLeft == 0 {
				s.cstate = csDataEnd
			}
		case csDataEnd:
			if s.end-rd < 2 {
				break loop
			}
			if s.buf[rd] != '\r' || s.buf[rd+1] != '\n' {
				return errors.New("loadgen: malformed chunked encoding")
			}
			rd += 2
			s.cstate = csSize
		case csSize:
			i := bytes.IndexByte(s.buf[rd:s.end], '\n')
			if i < 0 {
				if s.end-rd > 256 {
					return errors.New("loadgen: malformed chunk size line")
				}
				break loop
			}
			line := bytes.TrimRight(s.buf[rd:rd+i], "\r")
			if j := bytes.IndexByte(line, ';'); j >= 0 {
				line = line[:j]
			}
			size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 31)
			if err != nil {
				return fmt.Errorf("loadgen: malformed chunk size %q", line)
			}
			rd += i + 1
			if size == 0 {
				s.eof = true
				break loop
			}
			s.chunkLeft = int(size)
			s.cstate = csData
		}
	}
	s.pend, s.raw = w, rd
	return nil
}

// events parses the complete lines of buf[scan:pend].
func (s *streamReader) events(fn func(data []byte)) {
	b := s.buf[:s.pend]
	i := s.scan
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		line := b[i : i+j]
		i += j + 1
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			if s.curSet {
				s.idSeen, s.idSet = s.curID, true
			}
			if s.hasData {
				fn(s.data)
			}
			s.hasData, s.data, s.curSet = false, nil, false
			s.block = i
			continue
		}
		switch line[0] {
		case 'd':
			if !s.hasData {
				if v, ok := field(line, "data"); ok {
					s.data, s.hasData = v, true
				}
			}
		case 'i':
			if v, ok := field(line, "id"); ok && bytes.IndexByte(v, 0) < 0 {
				s.curID, s.curSet = v, true
			}
		}
	}
	s.scan = i
}

// field returns the value of line when its field name is name.
func field(line []byte, name string) ([]byte, bool) {
	if len(line) < len(name) || string(line[:len(name)]) != name {
		return nil, false
	}
	v := line[len(name):]
	if len(v) == 0 {
		return v, true
	}
	if v[0] != ':' {
		return nil, false
	}
	v = v[1:]
	if len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	return v, true
}

// compact keeps the partial event and the raw bytes not yet de-chunked,
// moving them to the front of the buffer.
func (s *streamReader) compact() {
	if s.idSet {
		s.lastID = append(s.lastID[:0], s.idSeen...)
		s.idSeen, s.idSet = nil, false
	}
	if s.block == 0 {
		return
	}
	// The partial event is parsed again from its start next time.
	keep := copy(s.buf, s.buf[s.block:s.pend])
	raw := copy(s.buf[keep:], s.buf[s.raw:s.end])
	s.pend, s.raw, s.end = keep, keep, keep+raw
	s.scan, s.block = 0, 0
	s.hasData, s.data, s.curSet = false, nil, false
}

// grow doubles the buffer, up to max, when one event fills it.
func (s *streamReader) grow() error {
	if len(s.buf) >= s.max {
		return errLineTooLong
	}
	nb := make([]byte, min(2*len(s.buf), s.max))
	copy(nb, s.buf[:s.end])
	s.buf = nb
	return nil
}
