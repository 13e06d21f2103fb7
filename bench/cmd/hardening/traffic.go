//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/loadgen"
)

// The data of every event a publisher sends is
//
//	<publisher>.<seq>.<unix nanoseconds>.xxxx…
//
// padded with 'x' to the event size: the legitimate subscriber checks from it
// that it receives each acknowledged event of each publisher once and in
// order, and measures the publish→receive latency (one process, one clock).

func payload(pub int, seq uint64, size int) string {
	var b strings.Builder
	b.Grow(max(size, 48))
	b.WriteString(strconv.Itoa(pub))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(seq, 10))
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(time.Now().UnixNano(), 10))
	b.WriteByte('.')
	for b.Len() < size {
		b.WriteByte('x')
	}
	return b.String()
}

func parsePayload(data string) (pub int, seq uint64, sent int64, ok bool) {
	f := strings.SplitN(data, ".", 4)
	if len(f) < 4 {
		return 0, 0, 0, false
	}
	p, err1 := strconv.Atoi(f[0])
	s, err2 := strconv.ParseUint(f[1], 10, 64)
	t, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return p, s, t, true
}

// pubConfig describes the publishers of a scenario.
type pubConfig struct {
	n     int                              // publishers, each with one request in flight
	rate  float64                          // events per second, all together; 0: as fast as acknowledged
	total int                              // stop after this many requests (0: until stopped)
	size  int                              // bytes of data per event
	topic func(pub int, seq uint64) string // the topic of a publisher's seq-th event
}

// publishers publish events over HTTP until stopped, recording which were
// acknowledged.
type publishers struct {
	h    *hubProc
	cfg  pubConfig
	halt chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	issued atomic.Int64
	ok     atomic.Int64
	failed atomic.Int64
	rtt    loadgen.Histogram // request round trips

	mu       sync.Mutex
	acked    [][]bool // [publisher][seq]
	statuses map[string]int
}

func startPublishers(ctx context.Context, h *hubProc, cfg pubConfig) *publishers {
	p := &publishers{h: h, cfg: cfg, halt: make(chan struct{}), acked: make([][]bool, cfg.n), statuses: map[string]int{}}
	start := time.Now()
	for i := range cfg.n {
		p.wg.Go(func() { p.run(ctx, i, start) })
	}
	return p
}

// stop stops publishing and waits for the requests in flight.
func (p *publishers) stop() {
	p.once.Do(func() { close(p.halt) })
	p.wg.Wait()
}

// wait waits until every publisher is done (cfg.total reached).
func (p *publishers) wait() { p.wg.Wait() }

func (p *publishers) run(ctx context.Context, pub int, start time.Time) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	var interval time.Duration
	next := start
	if p.cfg.rate > 0 {
		interval = time.Duration(float64(p.cfg.n) / p.cfg.rate * float64(time.Second))
		next = start.Add(interval * time.Duration(pub) / time.Duration(p.cfg.n))
	}
	for seq := uint64(1); ; seq++ {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-p.halt:
					t.Stop()
					return
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
			next = next.Add(interval)
			if behind := time.Since(next); behind > time.Second {
				next = time.Now() // fall behind rather than burst
			}
		}
		select {
		case <-p.halt:
			return
		case <-ctx.Done():
			return
		default:
		}
		if p.cfg.total > 0 && p.issued.Add(1) > int64(p.cfg.total) {
			return
		}
		status := publishOne(ctx, client, p.h, p.cfg.topic(pub, seq), payload(pub, seq, p.cfg.size), &p.rtt)
		p.mu.Lock()
		if status == "200" {
			for len(p.acked[pub]) <= int(seq) {
				p.acked[pub] = append(p.acked[pub], false)
			}
			p.acked[pub][seq] = true
		} else {
			p.statuses[status]++
		}
		p.mu.Unlock()
		if status == "200" {
			p.ok.Add(1)
		} else {
			p.failed.Add(1)
		}
	}
}

// publishOne publishes one event and returns the response's status code, or
// what went wrong.
func publishOne(ctx context.Context, c *http.Client, h *hubProc, topic, data string, rtt *loadgen.Histogram) string {
	body := "topic=" + url.QueryEscape(topic) + "&data=" + data // data needs no escaping
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.hubURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+h.token)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "cancelled"
		}
		if strings.Contains(err.Error(), "Timeout") || strings.Contains(err.Error(), "timeout") {
			return "timeout"
		}
		return "error"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if rtt != nil {
		rtt.Record(time.Since(start))
	}
	return strconv.Itoa(resp.StatusCode)
}

// failures describes the requests that were not acknowledged.
func (p *publishers) failures() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.statuses) == 0 {
		return "none"
	}
	var parts []string
	for s, n := range p.statuses {
		parts = append(parts, fmt.Sprintf("%s ×%d", s, n))
	}
	return strings.Join(parts, ", ")
}

// legit is a legitimate subscriber: Herald's Go EventSource client, which
// reconnects with Last-Event-ID (also after 503/429), as a browser's
// EventSource does after a dropped stream. It checks every event and
// measures its latency.
type legit struct {
	ready     chan struct{}
	readyOnce sync.Once
	done      chan struct{}
	hist      atomic.Pointer[loadgen.Histogram]
	opens     atomic.Int64

	mu         sync.Mutex
	recv       [][]bool // [publisher][seq]
	received   int64
	dups       int64
	outOfOrder int64
	foreign    int64 // events that are not ours
	last       []uint64
	lastEnd    error
}

// startLegit subscribes to selectors and checks the events that arrive
// until ctx is done.
func startLegit(ctx context.Context, h *hubProc, selectors ...string) *legit {
	l := &legit{ready: make(chan struct{}), done: make(chan struct{})}
	l.hist.Store(new(loadgen.Histogram))
	c := eventsource.Client{
		Reconnect: eventsource.Reconnect{Delay: 250 * time.Millisecond, MaxDelay: 2 * time.Second, RetryTransient: true},
		OnStateChange: func(sc eventsource.StateChange) {
			if sc.State == eventsource.StateOpen {
				l.opens.Add(1)
				l.readyOnce.Do(func() { close(l.ready) })
			}
		},
	}
	req, _ := http.NewRequest(http.MethodGet, h.base+subscribeTarget(selectors...), nil)
	go func() {
		defer close(l.done)
		for ev, err := range c.Events(ctx, req) {
			if err != nil {
				l.mu.Lock()
				l.lastEnd = err
				l.mu.Unlock()
				return
			}
			l.record(ev.Data)
		}
	}()
	return l
}

// waitReady waits until the stream is open.
func (l *legit) waitReady(ctx context.Context, d time.Duration) error {
	select {
	case <-l.ready:
		return nil
	case <-l.done:
		return fmt.Errorf("the legitimate subscriber ended: %v", l.lastEnd)
	case <-time.After(d):
		return fmt.Errorf("the legitimate subscriber did not connect within %v", d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// phase makes later latencies go to a new histogram, and returns it.
func (l *legit) phase() *loadgen.Histogram {
	h := new(loadgen.Histogram)
	l.hist.Store(h)
	return h
}

func (l *legit) record(data string) {
	now := time.Now().UnixNano()
	pub, seq, sent, ok := parsePayload(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ok || pub < 0 || pub > 1<<16 {
		l.foreign++
		return
	}
	for len(l.recv) <= pub {
		l.recv = append(l.recv, nil)
		l.last = append(l.last, 0)
	}
	for len(l.recv[pub]) <= int(seq) {
		l.recv[pub] = append(l.recv[pub], false)
	}
	switch {
	case l.recv[pub][seq]:
		l.dups++
		return
	case seq < l.last[pub]:
		l.outOfOrder++
	}
	l.recv[pub][seq] = true
	l.last[pub] = max(l.last[pub], seq)
	l.received++
	l.hist.Load().Record(time.Duration(now - sent))
}

// check counts the events p acknowledged that l has not received.
func (l *legit) check(p *publishers) (acked, missing int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	for pub, seqs := range p.acked {
		for seq, ok := range seqs {
			if !ok {
				continue
			}
			acked++
			if pub >= len(l.recv) || seq >= len(l.recv[pub]) || !l.recv[pub][seq] {
				missing++
			}
		}
	}
	return acked, missing
}

// drain waits up to d for every acknowledged event to arrive, and returns
// the count of those that have not.
func (l *legit) drain(ctx context.Context, p *publishers, d time.Duration) (acked, missing int64) {
	end := time.Now().Add(d)
	for {
		acked, missing = l.check(p)
		if missing == 0 || time.Now().After(end) || ctx.Err() != nil {
			return acked, missing
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// integrity summarises what the subscriber saw besides the acknowledged
// events: duplicates, reorderings, reconnections.
func (l *legit) integrity() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d received, %d duplicate, %d out of order, %d connection(s)",
		l.received, l.dups, l.outOfOrder, l.opens.Load())
}

// sound reports whether the subscriber saw no duplicate and no reordering.
func (l *legit) sound() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dups == 0 && l.outOfOrder == 0 && l.foreign == 0
}
