//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-sse/herald/loadgen"
)

// srcAddr returns the loopback address client i connects from: 127.0.0.2
// onwards, perAddr clients each, so that clients stay under a hub's
// per-address limit and ephemeral ports never run out.
func srcAddr(i, perAddr int) string {
	return fmt.Sprintf("127.0.0.%d", 2+(i/perAddr)%250)
}

// sockOpts are socket options of clients that do not read, set before
// connecting (zero: the system's).
type sockOpts struct {
	// Rcvbuf is SO_RCVBUF: the window the hub sees stays small.
	Rcvbuf int
	// MSS is TCP_MAXSEG, the segment size the client announces. Over
	// loopback segments are 64 KiB, and Linux sizes a connection's send
	// buffer from its segment size: the hub's kernel would give each
	// stalled connection a send buffer of tcp_wmem's maximum (4 MiB here)
	// at once, which no client across a real network gets without first
	// reading fast. An Ethernet-sized segment keeps the kernel's share
	// what it would be on a network.
	MSS int
}

// dialer dials from src (empty: the system chooses) with the socket
// options o.
func dialer(src string, o sockOpts, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	if o != (sockOpts{}) {
		d.Control = o.control
	}
	return d
}

// rawStream is an HTTP/1.1 request on a connection of its own, with its
// response's head read.
type rawStream struct {
	conn       net.Conn
	resp       *http.Response
	status     int
	retryAfter string
	took       time.Duration // from dialling to the response's head
}

// close closes the connection.
func (s *rawStream) close() {
	if s != nil && s.conn != nil {
		s.conn.Close()
	}
}

// drain reads and discards the response body until the connection ends.
func (s *rawStream) drain() { _, _ = io.Copy(io.Discard, s.resp.Body) }

// errTimeout is a request that got no response in time.
var errTimeout = errors.New("no response in time")

// openRaw dials addr with d, sends a GET (or a POST with body) for target
// with the given headers, and reads the response's head, within timeout.
// The connection stays open: the caller reads the body, or not, and closes
// it.
func openRaw(ctx context.Context, d *net.Dialer, addr, method, target string, hdr map[string]string, body string, timeout time.Duration) (*rawStream, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errTimeout
		}
		return nil, err
	}
	_ = conn.SetDeadline(start.Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, addr)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if method == http.MethodPost {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 4096), nil)
	if err != nil {
		conn.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil, errTimeout
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return &rawStream{conn: conn, resp: resp, status: resp.StatusCode,
		retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start)}, nil
}

// subscribeTarget is the request target of a subscription to selectors.
func subscribeTarget(selectors ...string) string {
	q := make([]string, len(selectors))
	for i, s := range selectors {
		q[i] = "topic=" + url.QueryEscape(s)
	}
	return "/.well-known/mercure?" + strings.Join(q, "&")
}

// probeResult is one timed request on a fresh connection.
type probeResult struct {
	status     int // 0: none (err)
	retryAfter string
	took       time.Duration
	err        error
}

func (r probeResult) String() string {
	switch {
	case errors.Is(r.err, errTimeout):
		return fmt.Sprintf("no answer in %s", fmtDur(r.took))
	case r.err != nil:
		return fmt.Sprintf("error after %s: %v", fmtDur(r.took), r.err)
	case r.retryAfter != "":
		return fmt.Sprintf("%d in %s (Retry-After %s)", r.status, fmtDur(r.took), r.retryAfter)
	default:
		return fmt.Sprintf("%d in %s", r.status, fmtDur(r.took))
	}
}

// probe sends one request on a fresh connection from 127.0.0.1 and times
// the response's head.
func probe(ctx context.Context, addr, method, target string, hdr map[string]string, body string, timeout time.Duration) probeResult {
	start := time.Now()
	s, err := openRaw(ctx, dialer("127.0.0.1", sockOpts{}, timeout), addr, method, target, hdr, body, timeout)
	if err != nil {
		return probeResult{took: time.Since(start), err: err}
	}
	defer s.close()
	return probeResult{status: s.status, retryAfter: s.retryAfter, took: s.took}
}

// prober probes /healthz at a fixed interval until stopped.
type prober struct {
	start    time.Time
	slowAt   atomic.Int64 // when the slowest probe was sent, ns after start
	hist     loadgen.Histogram
	n, bad   atomic.Int64 // probes, probes that were not a 200 in time
	worst    atomic.Pointer[probeResult]
	stopOnce sync.Once
	done     chan struct{}
	wg       sync.WaitGroup
}

func startProber(ctx context.Context, addr string, every, timeout time.Duration) *prober {
	p := &prober{start: time.Now(), done: make(chan struct{})}
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			sent := time.Since(p.start)
			r := probe(ctx, addr, http.MethodGet, "/healthz", map[string]string{"Connection": "close"}, "", timeout)
			if r.took > p.hist.Max() {
				p.slowAt.Store(int64(sent))
			}
			p.n.Add(1)
			p.hist.Record(r.took)
			if r.status != http.StatusOK {
				p.bad.Add(1)
			}
			if w := p.worst.Load(); w == nil || r.took > w.took || (r.status != http.StatusOK && w.status == http.StatusOK) {
				p.worst.Store(&r)
			}
			select {
			case <-p.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return p
}

func (p *prober) stop() {
	p.stopOnce.Do(func() { close(p.done) })
	p.wg.Wait()
}

// summary is "p50 x, max y, n probes (k not 200)".
func (p *prober) summary() string {
	s := fmt.Sprintf("p50 %s, max %s (sent %s after the start) over %d probes", fmtDur(p.hist.Quantile(0.5)), fmtDur(p.hist.Max()),
		fmtDur(time.Duration(p.slowAt.Load())), p.n.Load())
	if b := p.bad.Load(); b > 0 {
		s += fmt.Sprintf(" (%d not 200: %s)", b, p.worst.Load())
	}
	return s
}

// metrics is one scrape of /metrics: value by series ("name{labels}").
type metrics map[string]float64

// scrape reads the hub's /metrics on a fresh connection.
func scrape(ctx context.Context, base string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// orNA formats a series' value, or "n/a" when the hub does not export it.
func (m metrics) orNA(series string) string {
	if v, ok := m[series]; ok {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return "n/a"
}

// fmtDur formats a duration for a report.
func fmtDur(d time.Duration) string { return loadgen.DurationString(d) }

// fmtMB formats bytes in MiB.
func fmtMB(b int64) string {
	if b > -10<<20 && b < 10<<20 {
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// control sets o on a socket before it connects (a net.Dialer's Control).
func (o sockOpts) control(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		if o.Rcvbuf > 0 {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.Rcvbuf)
		}
		if o.MSS > 0 && serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, o.MSS)
		}
	}); err != nil {
		return err
	}
	return serr
}
