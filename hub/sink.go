package hub

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/herald-sse/herald/internal/httperr"
)

// sink is where a subscriber's bytes go: a hijacked HTTP/1.x connection or an
// http.ResponseWriter. write is never called concurrently with itself.
type sink interface {
	// writeHeader sends the response status line and headers.
	writeHeader(h http.Header) error
	// write sends frames, in order, in as few writes as it can, and flushes.
	write(frames []*frame) error
	// abort makes a write in progress, and any later one, fail promptly. It
	// may be called concurrently with write.
	abort()
	// end finishes the response after the last write.
	end()
	// fail answers with the error status of err instead of a stream; only
	// before writeHeader.
	fail(err error)
}

// bufPool holds write buffers for coalescing frames. A buffer is taken only
// for the duration of one write, so idle subscribers hold none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// maxCopy is the size above which frames are written with writev instead of
// being copied into one buffer.
const maxCopy = 32 << 10

// connSink writes a chunked HTTP/1.1 response (or a close-delimited HTTP/1.0
// one) on a hijacked connection.
type connSink struct {
	conn    net.Conn
	chunked bool
	timeout time.Duration
	proto   string
	// deadline is the write deadline set on conn. It is moved forward only
	// once half of the timeout has passed: setting it on every write costs
	// a timer update per delivery. A write thus times out after between
	// timeout/2 and timeout.
	deadline time.Time
}

// extendDeadline makes sure a write has at least timeout/2 to complete.
func (c *connSink) extendDeadline() error {
	if c.timeout <= 0 {
		return nil
	}
	now := time.Now()
	if c.deadline.Sub(now) > c.timeout/2 {
		return nil
	}
	c.deadline = now.Add(c.timeout)
	return c.conn.SetWriteDeadline(c.deadline)
}

var crlf = []byte("\r\n")

func (c *connSink) writeHeader(h http.Header) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b := (*bp)[:0]
	b = append(b, c.proto...)
	b = append(b, " 200 OK\r\n"...)
	if c.chunked {
		h.Set("Transfer-Encoding", "chunked")
	} else {
		h.Set("Connection", "close")
	}
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w := appendWriter{b}
	if err := h.Write(&w); err != nil {
		return err
	}
	b = append(w.b, crlf...)
	*bp = b[:0]
	return c.writeRaw(b)
}

func (c *connSink) writeRaw(b []byte) error {
	if err := c.extendDeadline(); err != nil {
		return err
	}
	_, err := c.conn.Write(b)
	return err
}

func (c *connSink) write(frames []*frame) error {
	n := 0
	for _, f := range frames {
		n += len(f.data)
	}
	if n == 0 {
		return nil
	}
	if n <= maxCopy {
		bp := bufPool.Get().(*[]byte)
		b := (*bp)[:0]
		if c.chunked {
			b = strconv.AppendInt(b, int64(n), 16)
			b = append(b, crlf...)
		}
		for _, f := range frames {
			b = append(b, f.data...)
		}
		if c.chunked {
			b = append(b, crlf...)
		}
		err := c.writeRaw(b)
		*bp = b[:0]
		bufPool.Put(bp)
		return err
	}
	bufs := make(net.Buffers, 0, len(frames)+2)
	var hdr []byte
	if c.chunked {
		hdr = strconv.AppendInt(make([]byte, 0, 18), int64(n), 16)
		hdr = append(hdr, crlf...)
		bufs = append(bufs, hdr)
	}
	for _, f := range frames {
		bufs = append(bufs, f.data)
	}
	if c.chunked {
		bufs = append(bufs, crlf)
	}
	if err := c.extendDeadline(); err != nil {
		return err
	}
	_, err := bufs.WriteTo(c.conn)
	return err
}

func (c *connSink) abort() { c.conn.Close() }

func (c *connSink) end() {
	if c.chunked {
		c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		c.conn.Write([]byte("0\r\n\r\n"))
	}
	c.conn.Close()
}

func (c *connSink) fail(err error) {
	status, msg := httperr.Status(err), httperr.Reason(err)
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c.conn, "%s %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		c.proto, status, http.StatusText(status), len(msg)+1, msg+"\n")
	c.conn.Close()
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// writerSink streams through an http.ResponseWriter, for HTTP/2 and for
// handlers that cannot be hijacked. The request's goroutine stays alive until
// the stream ends.
type writerSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// newWriterSink streams through w. The server's read deadline (which bounds
// reading a request) no longer applies: a subscriber sends nothing more.
func newWriterSink(w http.ResponseWriter, timeout time.Duration) *writerSink {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	return &writerSink{w: w, rc: rc, timeout: timeout}
}

func (s *writerSink) writeHeader(http.Header) error {
	s.w.WriteHeader(http.StatusOK)
	return s.flush()
}

func (s *writerSink) write(frames []*frame) error {
	if s.timeout > 0 {
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	for _, f := range frames {
		if _, err := s.w.Write(f.data); err != nil {
			return err
		}
	}
	return s.flush()
}

func (s *writerSink) flush() error {
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (s *writerSink) abort() {
	_ = s.rc.SetWriteDeadline(time.Now())
}

func (s *writerSink) end() {}

func (s *writerSink) fail(err error) { httperr.Write(s.w, err) }

// hijack takes over an HTTP/1.x connection. ok is false when the connection
// cannot be hijacked (HTTP/2, or a wrapper without Unwrap), in which case the
// caller streams through the ResponseWriter.
func hijack(w http.ResponseWriter, r *http.Request, timeout time.Duration) (s *connSink, ok bool) {
	if r.ProtoMajor != 1 {
		return nil, false
	}
	// A subscriber sends nothing after its request: whatever the server had
	// buffered from it (pipelined requests) is discarded with the returned
	// bufio.ReadWriter.
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, false
	}
	// The server's request deadlines no longer apply; ours do.
	_ = conn.SetDeadline(time.Time{})
	proto := "HTTP/1.1"
	if !r.ProtoAtLeast(1, 1) {
		proto = "HTTP/1.0"
	}
	return &connSink{conn: conn, chunked: r.ProtoAtLeast(1, 1), timeout: timeout, proto: proto}, true
}
