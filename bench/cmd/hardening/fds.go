//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fdsConfig is the file-descriptor exhaustion scenario.
type fdsConfig struct {
	nofile   int           // the hub's open-file limit; 0: this process's
	subs     int           // subscribers to try; 0: the limit and 100 more
	timeout  time.Duration // the longest wait for an answer at the limit
	probes   int           // of each kind, at each limit
	liveRate float64
	conns    bool // also fill what --max-connections leaves with idle keep-alive connections
	store    string
}

func defaultFDs() fdsConfig {
	return fdsConfig{nofile: 2000, timeout: 5 * time.Second, probes: 5, liveRate: 5, conns: true, store: "bolt"}
}

func (c *fdsConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.nofile, "nofile", c.nofile, "the hub's open-file limit, set with ulimit -n (0: keep this process's)")
	fs.IntVar(&c.subs, "subs", c.subs, "subscribers to try to open (0: the hub's open-file limit and 100 more)")
	fs.DurationVar(&c.timeout, "wait", c.timeout, "at the limit, the longest wait for an answer")
	fs.IntVar(&c.probes, "probes", c.probes, "requests of each kind at the limit (subscribe, publish; /healthz twice as many)")
	fs.Float64Var(&c.liveRate, "live-rate", c.liveRate, "events per second to the subscriber connected before the flood")
	fs.BoolVar(&c.conns, "conns", c.conns, "then fill what the subscriber limit leaves with idle keep-alive connections and measure again")
	fs.StringVar(&c.store, "store", c.store, "the hub's store: bolt (in a fresh data directory) or memory")
}

func (c *fdsConfig) check() error {
	switch {
	case c.nofile != 0 && (c.nofile < 256 || c.nofile > 1<<20):
		return fmt.Errorf("-nofile %d: want 0 or 256 to 1048576", c.nofile)
	case c.subs < 0 || c.subs > 100_000:
		return fmt.Errorf("-subs %d: want 0 to 100000", c.subs)
	case c.timeout <= 0 || c.timeout > time.Minute:
		return fmt.Errorf("-wait %v: want up to 1m", c.timeout)
	case c.probes < 1 || c.probes > 100:
		return fmt.Errorf("-probes %d: want 1 to 100", c.probes)
	case c.liveRate <= 0:
		return fmt.Errorf("-live-rate must be positive")
	}
	return nil
}

func (c *fdsConfig) budget() time.Duration {
	return 4*time.Minute + 6*time.Duration(c.probes)*c.timeout
}

// limitCheck is what was measured at one limit.
type limitCheck struct {
	subscribe []probeResult
	healthz   []probeResult
	publish   []probeResult
	kaOK      int64 // publishes on the connection opened before, acknowledged during the checks
	kaFailed  int64
}

// runFDs fills the hub's file descriptors with subscribers, then checks that
// it refuses more at once, answers /healthz and publishers, and keeps
// serving the subscribers it has.
func runFDs(ctx context.Context, e *env, c fdsConfig) (*report, error) {
	limit := c.nofile
	how := fmt.Sprintf("under `ulimit -n %d`", c.nofile)
	if limit == 0 {
		var rl syscall.Rlimit
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		limit, how = int(rl.Cur), fmt.Sprintf("with this machine's open-file limit (%d)", rl.Cur)
	}
	if c.subs == 0 {
		c.subs = limit + 100
	}
	r := newReport(fmt.Sprintf("fds: the hub %s, filled with subscribers", how), e.hubName)
	r.setup = fmt.Sprintf("The hub runs %s (lowered so that filling it is cheap). Worker processes open up to %d subscribers (one connection each, "+
		"%d per source address from 127.0.0.2, never reading), until %d in a row are refused or unanswered. A subscriber connected before "+
		"receives %g events/s published on a keep-alive connection also opened before. At the limit: %d new subscriptions, %d /healthz and %d publishes, "+
		"each on a fresh connection from 127.0.0.1, each given %v to answer.",
		how, c.subs, e.perAddr, 64, c.liveRate, c.probes, 2*c.probes, c.probes, c.timeout)
	h, err := e.startHub(ctx, hubSpec{store: c.store, nofile: c.nofile})
	if err != nil {
		return nil, err
	}
	defer h.stop()
	noteOmitted(r, h)
	m0 := scrapeOr(ctx, h)
	r.add("hub's open-file limit / --max-connections / --max-subscribers", fmt.Sprintf("%s / %s / %s",
		hubNofile(h.pid), m0.orNA("herald_connections_limit"), m0.orNA("herald_subscriber_limit")))
	r.set("subscriber_limit", m0["herald_subscriber_limit"])

	l := startLegit(ctx, h, "/fd/live")
	if err := l.waitReady(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	pubs := startPublishers(ctx, h, pubConfig{n: 1, rate: c.liveRate, size: 100, topic: func(int, uint64) string { return "/fd/live" }})
	defer pubs.stop()
	l.phase()

	e.logf("filling: up to %d subscribers", c.subs)
	f, err := startFillers(ctx, e, h.addr, subscribeTarget("/fd/idle"), c.subs, c.timeout)
	if err != nil {
		return nil, err
	}
	defer f.release()
	opened, refused, took, firstErr := f.total()
	fillNote := ""
	if firstErr != "" {
		fillNote = "; first error: " + firstErr
	}
	r.add("subscribers opened (then refused or unanswered)", fmt.Sprintf("%d in %s (then %s)%s", opened, fmtDur(took), fmtCounts(refused), fillNote))
	r.add("hub's open files at the limit", strconv.Itoa(openFiles(h.pid)))
	r.set("opened", float64(opened))

	e.logf("full of subscribers: probing")
	during := l.phase()
	lc := checkLimit(ctx, h, pubs, c)
	addLimitRows(r, "with the hub full of subscribers", lc, true)
	r.set("subscribe_refused_ok", boolf(allRefused(lc.subscribe)))
	r.set("healthz_ok", boolf(allStatus(lc.healthz, http.StatusOK)))
	r.set("publish_ok", boolf(allStatus(lc.publish, http.StatusOK)))

	var idle []*rawStream
	defer func() { closeStreams(idle) }()
	if c.conns && answered(lc.subscribe) {
		e.logf("filling the connections left with idle keep-alive connections")
		var res map[string]int
		idle, res = fillIdle(ctx, h.addr, limit+100, c.timeout, e)
		r.add("idle keep-alive connections then opened (then refused)", fmt.Sprintf("%d (then %s)", len(idle), fmtCounts(res)))
		lc2 := checkLimit(ctx, h, pubs, c)
		addLimitRows(r, "with its connections full too", lc2, false)
	} else if c.conns {
		r.note("the connections were not filled further: the hub full of subscribers no longer answered")
	}
	sum := during.Summary()
	r.add("subscriber connected before: p50 / p99 while the hub was full", fmt.Sprintf("%s / %s (%d events)", fmtDur(sum.P50), fmtDur(sum.P99), sum.Count))

	e.logf("releasing")
	closeStreams(idle)
	idle = nil
	f.release()
	back := waitSubscribable(ctx, h, 30*time.Second)
	if back >= 0 {
		r.add("a new subscriber accepted again after the flood left", "after "+fmtDur(back))
	} else {
		r.add("a new subscriber accepted again after the flood left", "not within 30s")
	}
	pubs.stop()
	acked, missing := l.drain(ctx, pubs, 15*time.Second)
	r.check("acknowledged events the subscriber connected before did not receive", fmt.Sprintf("%d of %d", missing, acked), "0", missing == 0 && acked > 0)
	r.check("its stream's integrity", l.integrity(), "no duplicate, none out of order", l.sound())
	r.add("publishes not acknowledged (keep-alive publisher)", pubs.failures())
	r.add("hub log lines at warn or error", fmt.Sprintf("%d: %s", h.warns.Load(), h.warnSummary()))
	r.set("lost", float64(missing))
	r.set("acked", float64(acked))
	return r, nil
}

// checkLimit probes a full hub: new subscriptions, /healthz and publishes on
// fresh connections, and counts the keep-alive publisher's results
// meanwhile.
func checkLimit(ctx context.Context, h *hubProc, pubs *publishers, c fdsConfig) limitCheck {
	var lc limitCheck
	ok0, failed0 := pubs.ok.Load(), pubs.failed.Load()
	form := "topic=" + url.QueryEscape("/fd/probe") + "&data=probe"
	auth := map[string]string{"Authorization": "Bearer " + h.token, "Content-Type": "application/x-www-form-urlencoded", "Connection": "close"}
	for i := range 2 * c.probes {
		if i < c.probes {
			lc.subscribe = append(lc.subscribe, probe(ctx, h.addr, http.MethodGet, subscribeTarget("/fd/new"), map[string]string{"Connection": "close"}, "", c.timeout))
			lc.publish = append(lc.publish, probe(ctx, h.addr, http.MethodPost, "/.well-known/mercure", auth, form, c.timeout))
		}
		lc.healthz = append(lc.healthz, probe(ctx, h.addr, http.MethodGet, "/healthz", map[string]string{"Connection": "close"}, "", c.timeout))
		_ = sleep(ctx, 100*time.Millisecond)
	}
	lc.kaOK, lc.kaFailed = pubs.ok.Load()-ok0, pubs.failed.Load()-failed0
	return lc
}

func addLimitRows(r *report, at string, lc limitCheck, targets bool) {
	sub := fmt.Sprintf("%s; slowest %s", summarize(lc.subscribe), fmtDur(slowest(lc.subscribe)))
	hz := fmt.Sprintf("%s; slowest %s", summarize(lc.healthz), fmtDur(slowest(lc.healthz)))
	if targets {
		r.check("new subscribe "+at, sub, "refused < 1s, 503/429 + Retry-After", allRefused(lc.subscribe) && slowest(lc.subscribe) < time.Second)
		r.check("/healthz "+at, hz, "200 < 100ms", allStatus(lc.healthz, http.StatusOK) && slowest(lc.healthz) < 100*time.Millisecond)
		r.check("publish on a fresh connection "+at, summarize(lc.publish), "200", allStatus(lc.publish, http.StatusOK))
		r.check("publishes on the connection opened before, during the checks", fmt.Sprintf("%d acknowledged, %d failed", lc.kaOK, lc.kaFailed), "all acknowledged", lc.kaFailed == 0 && lc.kaOK > 0)
		return
	}
	r.add("new subscribe "+at, sub)
	r.add("/healthz "+at, hz)
	r.add("publish on a fresh connection "+at, summarize(lc.publish))
	r.add("publishes on the connection opened before, during the checks", fmt.Sprintf("%d acknowledged, %d failed", lc.kaOK, lc.kaFailed))
}

// summarize counts results by outcome, e.g. "503 + Retry-After ×5".
func summarize(rs []probeResult) string {
	m := map[string]int{}
	for _, x := range rs {
		k := ""
		switch {
		case errors.Is(x.err, errTimeout):
			k = "no answer in time"
		case x.err != nil:
			k = "error: " + x.err.Error()
		default:
			k = strconv.Itoa(x.status)
			if x.retryAfter != "" {
				k += " + Retry-After " + x.retryAfter
			}
		}
		m[k]++
	}
	return fmtCounts(m)
}

func slowest(rs []probeResult) time.Duration {
	var d time.Duration
	for _, x := range rs {
		d = max(d, x.took)
	}
	return d
}

func allRefused(rs []probeResult) bool {
	for _, x := range rs {
		if x.err != nil || (x.status != http.StatusServiceUnavailable && x.status != http.StatusTooManyRequests) || x.retryAfter == "" {
			return false
		}
	}
	return len(rs) > 0
}

func allStatus(rs []probeResult, status int) bool {
	for _, x := range rs {
		if x.err != nil || x.status != status {
			return false
		}
	}
	return len(rs) > 0
}

func answered(rs []probeResult) bool {
	for _, x := range rs {
		if x.err != nil {
			return false
		}
	}
	return true
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// fillIdle opens keep-alive connections, each after one /healthz request
// answered, until 16 in a row are refused or unanswered, or max are open.
func fillIdle(ctx context.Context, addr string, maxConns int, timeout time.Duration, e *env) ([]*rawStream, map[string]int) {
	var (
		mu      sync.Mutex
		conns   []*rawStream
		res     = map[string]int{}
		bad     atomic.Int64
		next    atomic.Int64
		wg      sync.WaitGroup
		baseIdx = 200 * e.perAddr // source addresses the workers do not use
	)
	for range 16 {
		wg.Go(func() {
			for bad.Load() < 16 {
				i := int(next.Add(1)) - 1
				if i >= maxConns {
					return
				}
				s, err := openRaw(ctx, dialer(srcAddr(baseIdx+i, e.perAddr), e.sock(), timeout), addr, http.MethodGet, "/healthz", nil, "", timeout)
				mu.Lock()
				switch {
				case err != nil:
					bad.Add(1)
					if errors.Is(err, errTimeout) {
						res["no answer"]++
					} else {
						res["error"]++
					}
				case s.status != http.StatusOK:
					bad.Add(1)
					res[strconv.Itoa(s.status)]++
					s.close()
				default:
					bad.Store(0)
					_, _ = io.Copy(io.Discard, s.resp.Body)
					conns = append(conns, s)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return conns, res
}

// waitSubscribable returns how long it took until a new subscription was
// accepted, or -1 after d.
func waitSubscribable(ctx context.Context, h *hubProc, d time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		p := probe(ctx, h.addr, http.MethodGet, subscribeTarget("/fd/new"), nil, "", 2*time.Second)
		if p.err == nil && p.status == http.StatusOK {
			return time.Since(start)
		}
		_ = sleep(ctx, 100*time.Millisecond)
	}
	return -1
}

// scrapeOr scrapes the hub's metrics, or returns none.
func scrapeOr(ctx context.Context, h *hubProc) metrics {
	m, _ := scrape(ctx, h.base)
	return m
}

// hubNofile reads a process's soft open-file limit from /proc.
func hubNofile(pid int) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Max open files"); ok {
			if fs := strings.Fields(v); len(fs) > 0 {
				return fs[0]
			}
		}
	}
	return "n/a"
}
