//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/herald-sse/herald/loadgen"
)

// replaysConfig is the stalled replays scenario.
type replaysConfig struct {
	historyMB      int
	eventSize      int
	fillPublishers int
	clients        int
	writeTimeout   time.Duration
	liveRate       float64
	baseline       time.Duration
	cutWait        time.Duration // the longest wait for the hub to cut the stalled replays
}

func defaultReplays() replaysConfig {
	return replaysConfig{historyMB: 190, eventSize: 4096, fillPublishers: 32, clients: 500,
		writeTimeout: 30 * time.Second, liveRate: 20, baseline: 5 * time.Second}
}

func (c *replaysConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.historyMB, "history-mb", c.historyMB, "MiB of history to replay (events of -size bytes)")
	fs.IntVar(&c.eventSize, "size", c.eventSize, "bytes of data per history event")
	fs.IntVar(&c.fillPublishers, "fill-publishers", c.fillPublishers, "concurrent publishers filling the history")
	fs.IntVar(&c.clients, "clients", c.clients, "clients asking for the whole history (Last-Event-ID: earliest) and never reading")
	fs.DurationVar(&c.writeTimeout, "write-timeout", c.writeTimeout, "the hub's --write-timeout")
	fs.Float64Var(&c.liveRate, "live-rate", c.liveRate, "events per second to the live subscriber")
	fs.DurationVar(&c.baseline, "baseline", c.baseline, "live events before the stalled clients come")
	fs.DurationVar(&c.cutWait, "cut-wait", c.cutWait, "the longest wait for the hub to close the stalled replays (0: 3 × -write-timeout + 30s)")
}

func (c *replaysConfig) check() error {
	switch {
	case c.historyMB < 0 || c.historyMB > 4096:
		return fmt.Errorf("-history-mb %d: want 0 to 4096", c.historyMB)
	case c.eventSize < 64 || c.eventSize > 1<<20:
		return fmt.Errorf("-size %d: want 64 to 1048576", c.eventSize)
	case c.clients < 1 || c.clients > 15000:
		return fmt.Errorf("-clients %d: want 1 to 15000", c.clients)
	case c.writeTimeout <= 0 || c.fillPublishers < 1 || c.liveRate <= 0:
		return fmt.Errorf("-write-timeout, -fill-publishers and -live-rate must be positive")
	}
	if c.cutWait == 0 {
		c.cutWait = 3*c.writeTimeout + 30*time.Second
	}
	return nil
}

func (c *replaysConfig) budget() time.Duration {
	return 3*time.Minute + c.baseline + c.cutWait + time.Duration(c.historyMB)*200*time.Millisecond
}

// runReplays fills history, then makes clients ask for all of it and never
// read; a live subscriber, /healthz and the hub's memory are watched until
// the hub has closed every stalled stream.
func runReplays(ctx context.Context, e *env, c replaysConfig) (*report, error) {
	events := (c.historyMB << 20) / c.eventSize
	r := newReport(fmt.Sprintf("replays: %d clients replaying a %d MiB history without reading", c.clients, c.historyMB), e.hubName)
	r.setup = fmt.Sprintf("The hub (embedded bolt store, --write-timeout %v) is filled with %d events of %d bytes on one topic by %d concurrent publishers (form POSTs). "+
		"Then %d clients (%d per source address from 127.0.0.2, SO_RCVBUF %d) subscribe to it with `Last-Event-ID: earliest` and never read, "+
		"while a live subscriber receives %g events/s on another topic and /healthz is probed every 250ms on fresh connections.",
		c.writeTimeout, events, c.eventSize, c.fillPublishers, c.clients, e.perAddr, e.rcvbuf, c.liveRate)
	h, err := e.startHub(ctx, hubSpec{store: "bolt", args: []string{"--write-timeout=" + c.writeTimeout.String()}})
	if err != nil {
		return nil, err
	}
	defer h.stop()
	noteOmitted(r, h)

	e.logf("filling history: %d events of %d bytes", events, c.eventSize)
	fillStart := time.Now()
	fill := startPublishers(ctx, h, pubConfig{n: c.fillPublishers, total: events, size: c.eventSize, topic: func(int, uint64) string { return "/history" }})
	fill.wait()
	fillTook := time.Since(fillStart)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.add("history filled", fmt.Sprintf("%d events acknowledged (%s) in %s, %.0f/s; store on disk %s",
		fill.ok.Load(), "failed: "+fill.failures(), fmtDur(fillTook), float64(fill.ok.Load())/fillTook.Seconds(), fmtMB(dirSize(filepath.Join(h.dir, "data")))))

	l := startLegit(ctx, h, "/live")
	if err := l.waitReady(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	pubs := startPublishers(ctx, h, pubConfig{n: 1, rate: c.liveRate, size: 100, topic: func(int, uint64) string { return "/live" }})
	defer pubs.stop()
	before := l.phase()
	if err := sleep(ctx, c.baseline); err != nil {
		return nil, err
	}
	rssBefore, tcpBefore := h.rss.now(), tcpMem()
	m0 := scrapeOr(ctx, h)

	e.logf("%d stalled replays", c.clients)
	during := l.phase()
	hz := startProber(ctx, h.addr, 250*time.Millisecond, 5*time.Second)
	defer hz.stop()
	floodStart := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		streams  []*rawStream
		statuses = map[string]int{}
		okTime   loadgen.Histogram
		badTime  loadgen.Histogram
		lastOK   time.Time // when the last replay started
	)
	defer func() { closeStreams(streams) }()
	for i := range c.clients { // all at once
		wg.Go(func() {
			s, err := openRaw(ctx, dialer(srcAddr(i, e.perAddr), e.sock(), 10*time.Second), h.addr, http.MethodGet,
				subscribeTarget("/history"), map[string]string{"Last-Event-ID": "earliest"}, "", 60*time.Second)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				statuses[err.Error()]++
			case s.status == http.StatusOK:
				statuses["200"]++
				okTime.Record(s.took)
				lastOK = time.Now()
				streams = append(streams, s) // never read
			default:
				k := strconv.Itoa(s.status)
				if s.retryAfter != "" {
					k += " + Retry-After " + s.retryAfter
				}
				statuses[k]++
				badTime.Record(s.took)
				s.close()
			}
		})
	}
	wg.Wait()
	answered := time.Now()
	e.logf("all answered after %s: %s; waiting for the hub to close the stalled ones (at most %v)", fmtDur(answered.Sub(floodStart)), fmtCounts(statuses), c.cutWait)

	// The hub has closed every stalled stream once it has no more
	// subscribers than before the flood (herald_subscribers, which every
	// version exports).
	subsBefore, ok := m0["herald_subscribers"]
	if !ok {
		return nil, fmt.Errorf("the hub exports no herald_subscribers")
	}
	var cut time.Duration = -1
	replaysPeak := 0.0
	if lastOK.IsZero() {
		lastOK = answered
	}
	for deadline := answered.Add(c.cutWait); time.Now().Before(deadline); {
		if m, err := scrape(ctx, h.base); err == nil {
			replaysPeak = max(replaysPeak, m["herald_replays"])
			if m["herald_subscribers"] <= subsBefore {
				cut = time.Since(lastOK)
				break
			}
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
	end := time.Now()
	hz.stop()
	l.phase()
	rssPeak := h.rss.peak(floodStart, end)
	closeStreams(streams)
	streams = nil
	_ = sleep(ctx, 3*time.Second)
	rssAfter := h.rss.now()
	m1 := scrapeOr(ctx, h)
	pubs.stop()
	acked, missing := l.drain(ctx, pubs, 15*time.Second)

	bs, ds := before.Summary(), during.Summary()
	r.add("stalled clients' answers", fmt.Sprintf("%s; 200 after p50 %s, others after p50 %s / max %s",
		fmtCounts(statuses), fmtDur(okTime.Quantile(0.5)), fmtDur(badTime.Quantile(0.5)), fmtDur(badTime.Max())))
	r.add("replays refused (herald_subscribers_refused_total{reason=\"replay_busy\"}) / peak herald_replays",
		delta(m0, m1, `herald_subscribers_refused_total{reason="replay_busy"}`)+" / "+naIfMissing(m1, "herald_replays", replaysPeak))
	cutText := fmt.Sprintf("not within %v", c.cutWait)
	if cut >= 0 {
		cutText = fmt.Sprintf("%s after the last one started (closed as write: %s, as replay: %s)", fmtDur(cut),
			delta(m0, m1, `herald_subscribers_closed_total{reason="write"}`), delta(m0, m1, `herald_subscribers_closed_total{reason="replay"}`))
	}
	r.check("stalled replays closed by the hub", cutText, fmt.Sprintf("within --write-timeout (%v) + 5s", c.writeTimeout), cut >= 0 && cut <= c.writeTimeout+5*time.Second)
	r.check("hub RSS before → peak", fmt.Sprintf("%s → %s (+%s); %s once they were closed", fmtMB(rssBefore), fmtMB(rssPeak), fmtMB(rssPeak-rssBefore), fmtMB(rssAfter)),
		"growth < 300 MiB", rssPeak-rssBefore < 300<<20)
	r.add("the machine's TCP buffers (/proc/net/sockstat) before → peak", fmt.Sprintf("%s → %s", fmtMB(tcpBefore), fmtMB(h.rss.tcpPeak(floodStart, end))))
	r.add("live subscriber p50 / p99 before", fmt.Sprintf("%s / %s (%d events)", fmtDur(bs.P50), fmtDur(bs.P99), bs.Count))
	r.check("live subscriber p50 / p99 during", fmt.Sprintf("%s / %s (max %s, %d events)", fmtDur(ds.P50), fmtDur(ds.P99), fmtDur(ds.Max), ds.Count), "p99 < 1s", ds.Count > 0 && ds.P99 < time.Second)
	r.check("/healthz during", hz.summary(), "200 < 100ms", hz.bad.Load() == 0 && hz.hist.Max() < 100*time.Millisecond)
	r.check("acknowledged live events not received (lost)", fmt.Sprintf("%d of %d", missing, acked), "0", missing == 0 && acked > 0)
	r.check("live stream integrity", l.integrity(), "no duplicate, none out of order", l.sound())
	r.add("hub log lines at warn or error", fmt.Sprintf("%d: %s", h.warns.Load(), h.warnSummary()))
	r.set("lost", float64(missing))
	r.set("acked", float64(acked))
	r.set("started", float64(statuses["200"]))
	r.set("replays_limit", m1["herald_replays_limit"])
	r.set("answered", float64(len(statuses)))
	r.set("cut", boolf(cut >= 0))
	return r, nil
}

// delta is the growth of a series between two scrapes, or "n/a".
func delta(a, b metrics, series string) string {
	x, ok1 := a[series]
	y, ok2 := b[series]
	if !ok1 || !ok2 {
		return "n/a"
	}
	return strconv.FormatFloat(y-x, 'f', -1, 64)
}

// naIfMissing formats v, or "n/a" when the hub does not export series.
func naIfMissing(m metrics, series string, v float64) string {
	if _, ok := m[series]; !ok {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// dirSize is the size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
