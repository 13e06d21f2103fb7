//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// slowConfig is the slow consumers scenario.
type slowConfig struct {
	subscribers int
	size        int
	rate        float64
	duration    time.Duration
	store       string
}

func defaultSlow() slowConfig {
	return slowConfig{subscribers: 500, size: 64 << 10, rate: 100, duration: 30 * time.Second, store: "bolt"}
}

func (c *slowConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.subscribers, "subscribers", c.subscribers, "subscribers that never read")
	fs.IntVar(&c.size, "size", c.size, "bytes of data per event")
	fs.Float64Var(&c.rate, "rate", c.rate, "events per second")
	fs.DurationVar(&c.duration, "duration", c.duration, "how long events are published")
	fs.StringVar(&c.store, "store", c.store, "the hub's store: bolt (in a fresh data directory) or memory")
}

func (c *slowConfig) check() error {
	switch {
	case c.subscribers < 1 || c.subscribers > 15000:
		return fmt.Errorf("-subscribers %d: want 1 to 15000", c.subscribers)
	case c.size < 64 || c.size > 1<<20:
		return fmt.Errorf("-size %d: want 64 to 1048576", c.size)
	case c.rate <= 0 || c.duration <= 0 || c.duration > 10*time.Minute:
		return fmt.Errorf("-rate must be positive, -duration up to 10m")
	}
	return nil
}

func (c *slowConfig) budget() time.Duration { return 2*time.Minute + c.duration }

// runSlow: subscribers that never read while large events are published; a
// reading subscriber must still get everything, and the hub must not hold
// the backlog for them.
func runSlow(ctx context.Context, e *env, c slowConfig) (*report, error) {
	r := newReport(fmt.Sprintf("slow: %d subscribers that never read, %d KiB events", c.subscribers, c.size>>10), e.hubName)
	r.setup = fmt.Sprintf("%d subscribers (%d per source address from 127.0.0.2, SO_RCVBUF %d) subscribe to one topic and never read; "+
		"a reading subscriber (Go EventSource client) subscribes to it too; %g events/s of %d bytes are published to it for %v (2 keep-alive publishers). "+
		"/metrics is read every 250ms. Store: %s.",
		c.subscribers, e.perAddr, e.rcvbuf, c.rate, c.size, c.duration, c.store)
	h, err := e.startHub(ctx, hubSpec{store: c.store})
	if err != nil {
		return nil, err
	}
	defer h.stop()
	noteOmitted(r, h)

	l := startLegit(ctx, h, "/slow")
	if err := l.waitReady(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		streams  []*rawStream
		statuses = map[string]int{}
		sem      = make(chan struct{}, 128)
	)
	defer func() { closeStreams(streams) }()
	for i := range c.subscribers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := openRaw(ctx, dialer(srcAddr(i, e.perAddr), e.sock(), 10*time.Second), h.addr, http.MethodGet, subscribeTarget("/slow"), nil, "", 30*time.Second)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				statuses[err.Error()]++
			case s.status != http.StatusOK:
				statuses[strconv.Itoa(s.status)]++
				s.close()
			default:
				statuses["200"]++
				streams = append(streams, s)
			}
		})
	}
	wg.Wait()
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	rssBefore, tcpBefore := h.rss.now(), tcpMem()
	m0 := scrapeOr(ctx, h)

	e.logf("publishing %g events/s of %d bytes for %v", c.rate, c.size, c.duration)
	during := l.phase()
	start := time.Now()
	pubs := startPublishers(ctx, h, pubConfig{n: 2, rate: c.rate, size: c.size, topic: func(int, uint64) string { return "/slow" }})
	defer pubs.stop()
	var queuedPeak float64
	_, hasQueued := m0["herald_queued_bytes"]
	for time.Since(start) < c.duration {
		if m, err := scrape(ctx, h.base); err == nil {
			queuedPeak = max(queuedPeak, m["herald_queued_bytes"])
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
	pubs.stop()
	acked, missing := l.drain(ctx, pubs, 20*time.Second)
	end := time.Now()
	rssPeak := h.rss.peak(start, end)
	rssEnd := h.rss.now()
	m1 := scrapeOr(ctx, h)
	closeStreams(streams)
	streams = nil

	ds := during.Summary()
	r.add("non-reading subscribers connected", fmtCounts(statuses))
	r.check("hub RSS before → peak", fmt.Sprintf("%s → %s (+%s); %s at the end", fmtMB(rssBefore), fmtMB(rssPeak), fmtMB(rssPeak-rssBefore), fmtMB(rssEnd)),
		"growth < 300 MiB", rssPeak-rssBefore < 300<<20)
	r.add("the machine's TCP buffers (/proc/net/sockstat) before → peak", fmt.Sprintf("%s → %s", fmtMB(tcpBefore), fmtMB(h.rss.tcpPeak(start, end))))
	r.add("disconnected as slow (herald_subscribers_closed_total{reason=\"slow\"})", delta(m0, m1, `herald_subscribers_closed_total{reason="slow"}`)+
		" of "+strconv.Itoa(statuses["200"])+"; as write (--write-timeout): "+delta(m0, m1, `herald_subscribers_closed_total{reason="write"}`)+
		"; still connected at the end (herald_subscribers): "+m1.orNA("herald_subscribers"))
	queued := "n/a (not exported)"
	if hasQueued {
		queued = fmt.Sprintf("%s (limit %s)", fmtMB(int64(queuedPeak)), fmtMB(int64(m1["herald_queued_bytes_limit"])))
	}
	r.add("herald_queued_bytes peak (read every 250ms)", queued)
	r.add("reading subscriber p50 / p99", fmt.Sprintf("%s / %s (max %s, %d events)", fmtDur(ds.P50), fmtDur(ds.P99), fmtDur(ds.Max), ds.Count))
	r.check("acknowledged events the reading subscriber did not receive (lost)", fmt.Sprintf("%d of %d", missing, acked), "0", missing == 0 && acked > 0)
	r.check("its stream's integrity", l.integrity(), "no duplicate, none out of order", l.sound())
	r.add("publishes not acknowledged", pubs.failures())
	r.add("hub log lines at warn or error", fmt.Sprintf("%d: %s", h.warns.Load(), h.warnSummary()))
	r.set("lost", float64(missing))
	r.set("acked", float64(acked))
	r.set("connected", float64(statuses["200"]))
	if v, ok := m1[`herald_subscribers_closed_total{reason="slow"}`]; ok {
		r.set("slow", v-m0[`herald_subscribers_closed_total{reason="slow"}`])
	}
	r.set("queued_peak", queuedPeak)
	return r, nil
}
