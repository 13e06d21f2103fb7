//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// selectorsConfig is the selector amplification scenario.
type selectorsConfig struct {
	attackers  int     // anonymous connections
	templates  int     // distinct URI-template selectors per connection
	template   string  // the attackers' template, %d replaced by a distinct number
	topics     int     // topics the backend publishes to
	rate       float64 // events per second
	publishers int
	size       int
	legit      string // the legitimate subscriber's selector
	baseline   time.Duration
	attack     time.Duration
	after      time.Duration // after the attackers leave
	drain      time.Duration
	store      string
}

func defaultSelectors() selectorsConfig {
	return selectorsConfig{
		attackers: 100, templates: 64, template: "/books/{a}-%d-{b}", topics: 3000,
		rate: 200, publishers: 4, size: 100, legit: "/books/{id}",
		baseline: 10 * time.Second, attack: 30 * time.Second, after: 60 * time.Second, drain: 20 * time.Second,
		store: "bolt",
	}
}

func (c *selectorsConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.attackers, "attackers", c.attackers, "anonymous attacker connections")
	fs.IntVar(&c.templates, "templates", c.templates, "distinct URI-template selectors per attacker connection")
	fs.StringVar(&c.template, "template", c.template, "the attackers' selectors, %d replaced by a distinct number: the default has the literal prefix of every topic and no suffix, so that an index by affixes cannot rule it out, and matches no topic")
	fs.IntVar(&c.topics, "topics", c.topics, "distinct topics the backend publishes to (/books/<n>)")
	fs.Float64Var(&c.rate, "rate", c.rate, "events per second the backend publishes")
	fs.IntVar(&c.publishers, "publishers", c.publishers, "backend publishers (keep-alive connections)")
	fs.StringVar(&c.legit, "legit", c.legit, "the legitimate subscriber's selector")
	fs.DurationVar(&c.baseline, "baseline", c.baseline, "publishing before the attackers connect")
	fs.DurationVar(&c.attack, "attack", c.attack, "how long the attackers stay connected")
	fs.DurationVar(&c.after, "after", c.after, "publishing after the attackers leave, before the RSS is read again")
	fs.DurationVar(&c.drain, "drain", c.drain, "after publishing stops, the longest wait for the last events")
	fs.StringVar(&c.store, "store", c.store, "the hub's store: bolt (in a fresh data directory) or memory")
}

func (c *selectorsConfig) check() error {
	switch {
	case c.attackers < 0 || c.attackers > 5000:
		return fmt.Errorf("-attackers %d: want 0 to 5000", c.attackers)
	case c.templates < 1 || c.templates > 1000:
		return fmt.Errorf("-templates %d: want 1 to 1000", c.templates)
	case !strings.Contains(c.template, "%d"):
		return fmt.Errorf("-template %q: it needs a %%d", c.template)
	case c.topics < 1 || c.rate <= 0 || c.publishers < 1:
		return fmt.Errorf("-topics, -rate and -publishers must be positive")
	case c.baseline+c.attack+c.after+c.drain > 10*time.Minute:
		return fmt.Errorf("the phases add up to more than 10 minutes")
	}
	return nil
}

// clientTemplates is herald serve's default --max-client-templates: the
// distinct templates the subscribers of one address may hold.
const clientTemplates = 1000

// budget is how long the scenario may take, everything included.
func (c *selectorsConfig) budget() time.Duration {
	return c.baseline + c.attack + c.after + c.drain + 90*time.Second
}

// runSelectors: anonymous connections subscribe with many distinct URI
// templates while a backend publishes to many topics; a legitimate
// subscriber measures its latency and checks that it loses nothing, and the
// hub's RSS is read before, during and after the attack.
func runSelectors(ctx context.Context, e *env, c selectorsConfig) (*report, error) {
	r := newReport(fmt.Sprintf("selectors: %d attacker connections × %d templates", c.attackers, c.templates), e.hubName)
	why := ""
	if c.template == defaultSelectors().template {
		why = ", which no topic matches and whose literal prefix every topic has: the worst case for an index by affixes"
	}
	// Attackers spread over source addresses so that each address stays
	// within the hub's default --max-client-templates, as an attacker who
	// wants the whole index to do the work would.
	perAddr := min(e.perAddr, max(1, clientTemplates/c.templates))
	r.setup = fmt.Sprintf("%d anonymous connections from %d source addresses, each subscribed to %d distinct URI templates (%q%s); "+
		"a backend publishes %g events/s of %d bytes over %d keep-alive connections to %d topics (/books/0 …), for %v before the attack, %v during it and %v after; "+
		"a legitimate subscriber (Go EventSource client, reconnecting with Last-Event-ID) selects %q. Store: %s.",
		c.attackers, (c.attackers+perAddr-1)/perAddr, c.templates, c.template, why, c.rate, c.size, c.publishers, c.topics, c.baseline, c.attack, c.after, c.legit, c.store)
	h, err := e.startHub(ctx, hubSpec{store: c.store})
	if err != nil {
		return nil, err
	}
	defer h.stop()
	noteOmitted(r, h)

	l := startLegit(ctx, h, c.legit)
	if err := l.waitReady(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	n := c.publishers
	pubs := startPublishers(ctx, h, pubConfig{n: n, rate: c.rate, size: c.size, topic: func(pub int, seq uint64) string {
		return "/books/" + strconv.Itoa(int((seq-1)*uint64(n)+uint64(pub))%c.topics)
	}})
	defer pubs.stop()

	e.logf("baseline: %v", c.baseline)
	before := l.phase()
	if err := sleep(ctx, c.baseline); err != nil {
		return nil, err
	}
	rssBefore := h.rss.now()

	e.logf("attack: %d connections × %d templates for %v", c.attackers, c.templates, c.attack)
	during := l.phase()
	hz := startProber(ctx, h.addr, 500*time.Millisecond, 5*time.Second)
	defer hz.stop()
	attackStart := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		streams  []*rawStream
		statuses = map[string]int{}
		slowest  time.Duration
	)
	for i := range c.attackers {
		sels := make([]string, c.templates)
		for j := range sels {
			sels[j] = fmt.Sprintf(c.template, i*c.templates+j)
		}
		wg.Go(func() {
			s, err := openRaw(ctx, dialer(srcAddr(i, perAddr), sockOpts{MSS: e.mss}, 10*time.Second), h.addr, http.MethodGet, subscribeTarget(sels...), nil, "", 20*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[err.Error()]++
				return
			}
			statuses[strconv.Itoa(s.status)]++
			slowest = max(slowest, s.took)
			if s.status != http.StatusOK {
				s.close()
				return
			}
			streams = append(streams, s)
			go s.drain()
		})
	}
	wg.Wait()
	connected := time.Since(attackStart)
	mid := min(c.attack/2, 10*time.Second)
	if err := sleepUntil(ctx, attackStart.Add(mid)); err != nil {
		closeStreams(streams)
		return nil, err
	}
	// A new subscriber arrives; its answer is read at the end of the run.
	var newSub probeResult
	var probing sync.WaitGroup
	probing.Go(func() {
		newSub = probe(ctx, h.addr, http.MethodGet, subscribeTarget("/books/0"), map[string]string{"Connection": "close"}, "", 30*time.Second)
	})
	defer probing.Wait()
	scrapeStart := time.Now()
	mAttack, errAttack := scrape(ctx, h.base)
	scrapeTook := time.Since(scrapeStart)
	if err := sleepUntil(ctx, attackStart.Add(c.attack)); err != nil {
		closeStreams(streams)
		return nil, err
	}
	leave := time.Now()
	hz.stop()
	rssPeak := h.rss.peak(attackStart, leave)
	rssLeave := h.rss.now()
	closeStreams(streams)

	e.logf("attackers gone; publishing for %v more", c.after)
	after := l.phase()
	if err := sleep(ctx, c.after); err != nil {
		return nil, err
	}
	rssAfter := h.rss.now()
	mAfter, _ := scrape(ctx, h.base)
	pubs.stop()
	e.logf("draining (at most %v)", c.drain)
	acked, missing := l.drain(ctx, pubs, c.drain)

	probing.Wait()
	bs, ds, as := before.Summary(), during.Summary(), after.Summary()
	r.add("attackers connected (status ×count)", fmt.Sprintf("%s in %s (slowest answer %s)", fmtCounts(statuses), fmtDur(connected), fmtDur(slowest)))
	r.add("templates held by the hub (herald_templates) during / after", mAttack.orNA("herald_templates")+" / "+mAfter.orNA("herald_templates"))
	if errAttack != nil {
		r.add("/metrics during the attack", fmt.Sprintf("failed after %s: %v", fmtDur(scrapeTook), errAttack))
	} else {
		r.add("/metrics during the attack", "answered in "+fmtDur(scrapeTook))
	}
	r.add("/healthz during the attack", hz.summary())
	r.add("a new subscription to one exact topic during the attack", newSub.String())
	r.add("legit p50 / p99 before the attack", fmt.Sprintf("%s / %s (%d events)", fmtDur(bs.P50), fmtDur(bs.P99), bs.Count))
	r.check("legit p50 / p99 during the attack", fmt.Sprintf("%s / %s (max %s, %d events)", fmtDur(ds.P50), fmtDur(ds.P99), fmtDur(ds.Max), ds.Count), "p99 < 1s", ds.Count > 0 && ds.P99 < time.Second)
	r.add("legit p50 / p99 after the attackers left", fmt.Sprintf("%s / %s (max %s, %d events)", fmtDur(as.P50), fmtDur(as.P99), fmtDur(as.Max), as.Count))
	r.check("hub RSS before → peak during the attack", fmt.Sprintf("%s → %s (+%s)", fmtMB(rssBefore), fmtMB(rssPeak), fmtMB(rssPeak-rssBefore)), "growth < 300 MiB", rssPeak-rssBefore < 300<<20)
	back := rssAfter <= rssBefore+max(rssBefore/5, 20<<20)
	r.check(fmt.Sprintf("hub RSS when they left → %v later", c.after), fmt.Sprintf("%s → %s (%+.0f MiB from before)", fmtMB(rssLeave), fmtMB(rssAfter), float64(rssAfter-rssBefore)/(1<<20)),
		"back near baseline (≤ +20% or +20 MiB)", back)
	r.check("acknowledged events not received (lost)", fmt.Sprintf("%d of %d (drained for up to %v)", missing, acked, c.drain), "0", missing == 0 && acked > 0)
	r.check("legit stream integrity", l.integrity(), "no duplicate, none out of order", l.sound())
	r.add("publishes not acknowledged", pubs.failures())
	r.add("hub log lines at warn or error", fmt.Sprintf("%d: %s", h.warns.Load(), h.warnSummary()))
	r.set("lost", float64(missing))
	r.set("acked", float64(acked))
	r.set("attackers_ok", float64(len(streams)))
	r.set("p99_during_ns", float64(ds.P99))
	if missing > 0 {
		r.note("events not received when the drain ended may only be late (a hub that fell behind): the drain is bounded at %v", c.drain)
	}
	return r, nil
}

func closeStreams(ss []*rawStream) {
	for _, s := range ss {
		s.close()
	}
}

// fmtCounts formats a count by key, e.g. "200 ×100, 503 ×3".
func fmtCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
