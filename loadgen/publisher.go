package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// publisher sends events over one keep-alive HTTP/1.1 connection, one
// request at a time, with a hand-written client that costs little CPU: one
// event per request (a form), or batches of events (NDJSON, to the batch
// endpoint).
type publisher struct {
	idx    int
	tgt    target
	token  string
	size   int
	batch  int // events per request
	prefix string
	topics []int    // the topics it sends to, in turn
	seqs   []uint64 // seqs[i]: last sequence number sent to topics[i]
	hist   *Histogram
	dialer *net.Dialer

	connMu sync.Mutex // guards conn against interrupt
	conn   net.Conn
	br     *bufio.Reader
	req    []byte
	body   []byte
	head   []byte   // request line and fixed headers, up to Content-Length
	esc    []string // topic names, escaped for a form, or for JSON with batches
	next   int      // the index in topics of the next event's topic

	acked    atomic.Uint64
	errors   atomic.Uint64
	unsure   atomic.Uint64 // failed requests the hub may have published
	firstErr atomic.Pointer[string]
}

func newPublisher(idx int, tgt target, cfg *Config, hist *Histogram) *publisher {
	p := &publisher{
		idx:    idx,
		tgt:    tgt,
		token:  cfg.PublisherToken,
		size:   cfg.Size,
		prefix: cfg.TopicPrefix,
		topics: topicsOf(idx, cfg.Topics, cfg.Publishers),
		batch:  max(cfg.Batch, 1),
		hist:   hist,
		dialer: &net.Dialer{Timeout: 10 * time.Second},
	}
	p.seqs = make([]uint64, len(p.topics))
	path, contentType := tgt.path, "application/x-www-form-urlencoded"
	if p.batch > 1 {
		path, contentType = tgt.batchPath(), "application/x-ndjson"
	}
	for _, t := range p.topics {
		if p.batch > 1 {
			q, _ := json.Marshal(TopicName(cfg.TopicPrefix, t))
			p.esc = append(p.esc, string(q))
		} else {
			p.esc = append(p.esc, escapedTopic(cfg.TopicPrefix, t))
		}
	}
	var b strings.Builder
	b.WriteString("POST " + path + " HTTP/1.1\r\nHost: " + tgt.host + "\r\n")
	b.WriteString("User-Agent: herald-bench\r\nContent-Type: " + contentType + "\r\n")
	if p.token != "" {
		b.WriteString("Authorization: Bearer " + p.token + "\r\n")
	}
	b.WriteString("Content-Length: ")
	p.head = []byte(b.String())
	return p
}

// run publishes until ctx is done, at rate events per second (0: as fast
// as the hub answers). Each event goes to the next of its topics.
func (p *publisher) run(ctx context.Context, rate float64) {
	defer p.close()
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(p.batch) / rate)
	}
	next := time.Now()
	for ctx.Err() == nil {
		if interval > 0 {
			if wait := time.Until(next); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			} else if wait < -interval {
				next = time.Now() // fell behind: do not burst to catch up
			}
			next = next.Add(interval)
		}
		first := p.next
		start := time.Now()
		maybe, err := p.post(ctx, first, start.UnixNano())
		n := uint64(p.batch)
		if err != nil {
			if maybe {
				p.unsure.Add(n)
			} else {
				// Not published (a batch is stored whole or not at all):
				// the next events reuse the numbers.
				for j := range p.batch {
					p.seqs[(first+j)%len(p.topics)]--
				}
			}
			p.errors.Add(n)
			s := err.Error()
			p.firstErr.CompareAndSwap(nil, &s)
			p.close()
			if ctx.Err() == nil {
				// Do not spin on a hub that refuses.
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
			continue
		}
		p.next = (first + p.batch) % len(p.topics)
		p.hist.Record(time.Since(start))
		p.acked.Add(n)
	}
}

// post sends the next p.batch events, to topics[first], topics[first+1]…
// (in turn), each with the next sequence number of its topic (seqs is
// advanced), and waits for the hub's answer. maybe reports, with an error,
// that the hub may have published them nonetheless (the answer was lost);
// otherwise events that failed were not published.
func (p *publisher) post(ctx context.Context, first int, now int64) (maybe bool, err error) {
	b := p.body[:0]
	if p.batch == 1 {
		p.seqs[first]++
		b = append(b, "topic="...)
		b = append(b, p.esc[first]...)
		b = append(b, "&data="...)
		b = appendPayload(b, p.idx, p.seqs[first], now, p.size)
	} else {
		for j := range p.batch {
			k := (first + j) % len(p.topics)
			p.seqs[k]++
			b = append(b, `{"topic":`...)
			b = append(b, p.esc[k]...)
			b = append(b, `,"data":"`...)
			b = appendPayload(b, p.idx, p.seqs[k], now, p.size)
			b = append(b, "\"}\n"...)
		}
	}
	p.body = b
	req := append(p.req[:0], p.head...)
	req = strconv.AppendInt(req, int64(len(b)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, b...)
	p.req = req
	if p.conn == nil {
		conn, err := p.tgt.dial(ctx, p.dialer)
		if err != nil {
			return false, err
		}
		p.connMu.Lock()
		p.conn = conn
		p.connMu.Unlock()
		if p.br == nil {
			p.br = bufio.NewReaderSize(conn, 4096)
		} else {
			p.br.Reset(conn)
		}
	}
	_ = p.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := p.conn.Write(req); err != nil {
		return false, err
	}
	status, err := p.readResponse()
	if err != nil {
		return true, err
	}
	return false, status
}

// readResponse reads one response. status is not nil when the hub answered
// with another status than 200; err when the answer could not be read.
func (p *publisher) readResponse() (status, err error) {
	line, err := p.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 12 || !strings.HasPrefix(string(line), "HTTP/1.") {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, closeAfter := -1, false, false
	for {
		line, err := p.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		h := strings.TrimRight(string(line), "\r\n")
		if h == "" {
			break
		}
		name, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			length, _ = strconv.Atoi(value)
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		case "connection":
			closeAfter = strings.EqualFold(value, "close")
		}
	}
	var body []byte
	switch {
	case chunked:
		body, err = readChunked(p.br)
	case length >= 0:
		body = make([]byte, length)
		_, err = io.ReadFull(p.br, body)
	default:
		body, err = io.ReadAll(io.LimitReader(p.br, 1<<20))
		closeAfter = true
	}
	if err != nil {
		return nil, err
	}
	if closeAfter {
		p.close()
	}
	if code != 200 {
		return fmt.Errorf("the hub answered %d: %.200s", code, strings.TrimSpace(string(body))), nil
	}
	if p.batch > 1 {
		if n := bytes.Count(body, []byte("\n")); n != p.batch {
			return nil, fmt.Errorf("the hub answered %d ids to a batch of %d events", n, p.batch)
		}
	}
	return nil, nil
}

func readChunked(br *bufio.Reader) ([]byte, error) {
	var body []byte
	for range 1 << 16 {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line, _, _ = strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseUint(line, 16, 31)
		if err != nil {
			return nil, fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			// Trailers end with an empty line.
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return nil, err
				}
				if strings.TrimSpace(l) == "" {
					return body, nil
				}
			}
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		if len(body) < 1<<20 {
			body = append(body, chunk[:n]...)
		}
	}
	return nil, errors.New("too many chunks")
}

func (p *publisher) close() {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.conn != nil {
		abort(p.conn)
		p.conn = nil
	}
}

// interrupt makes a request in flight fail at once.
func (p *publisher) interrupt() {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.conn != nil {
		_ = p.conn.SetDeadline(time.Now())
	}
}

// publishers is the set of publishers of a run.
type publishers struct {
	list []*publisher
	hist Histogram
	wg   sync.WaitGroup
}

func newPublishers(cfg *Config, tgt target) *publishers {
	ps := &publishers{}
	for i := range cfg.Publishers {
		ps.list = append(ps.list, newPublisher(i, tgt, cfg, &ps.hist))
	}
	return ps
}

func (ps *publishers) start(ctx context.Context, rate float64) {
	for _, p := range ps.list {
		r := 0.0
		if rate > 0 {
			r = rate / float64(len(ps.list))
		}
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			p.run(ctx, r)
		}()
	}
}

func (ps *publishers) counts() (acked, errs, unsure uint64) {
	for _, p := range ps.list {
		acked += p.acked.Load()
		errs += p.errors.Load()
		unsure += p.unsure.Load()
	}
	return acked, errs, unsure
}

func (ps *publishers) firstError() string {
	for _, p := range ps.list {
		if s := p.firstErr.Load(); s != nil {
			return *s
		}
	}
	return ""
}

// finals returns, once the publishers have stopped, the last sequence number
// sent by each publisher to each topic: finals[t][slot], see streamsOf.
func (ps *publishers) finals(topics int) [][]uint64 {
	out := make([][]uint64, topics)
	n := len(ps.list)
	for t := range out {
		streams := streamsOf(t, topics, n)
		out[t] = make([]uint64, len(streams))
		for j, pi := range streams {
			p := ps.list[pi]
			for k, pt := range p.topics {
				if pt == t {
					out[t][j] = p.seqs[k]
				}
			}
		}
	}
	return out
}
