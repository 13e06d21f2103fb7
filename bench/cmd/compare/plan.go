package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/herald-sse/herald/loadgen"
)

// plan is one scenario as the comparison runs it: the load generator's
// configuration and the figures it reports.
type plan struct {
	name, letter string
	cfg          loadgen.Config
	metrics      []metric
	durableOnly  bool
	// heraldOnly: the scenario publishes in batches, which only Herald
	// takes (its batch endpoint); the peers' cells then show their figures
	// for peersFrom, the same scenario one update per request.
	heraldOnly bool
	peersFrom  string
}

func (p plan) applies(impl string) bool {
	return (!p.durableOnly || durable[impl]) && (!p.heraldOnly || isHerald(impl))
}

func isHerald(impl string) bool { return strings.HasPrefix(impl, "herald") }

// metric is one figure of a scenario's results.
type metric struct {
	name   string
	unit   string
	higher bool // higher is better
	get    func(*loadgen.Result) (float64, bool)
	format func(float64) string
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

var (
	fmtK   = func(v float64) string { return fmt.Sprintf("%.1f k", v/1e3) }
	fmtMS  = func(v float64) string { return fmt.Sprintf("%.2f ms", v) }
	fmtKB  = func(v float64) string { return fmt.Sprintf("%.1f KB", v/1e3) }
	fmtF2  = func(v float64) string { return fmt.Sprintf("%.2f", v) }
	fmtS   = func(v float64) string { return fmt.Sprintf("%.2f s", v) }
	fmtInt = func(v float64) string { return fmt.Sprintf("%.0f", v) }
)

func server(r *loadgen.Result) *loadgen.ServerResult {
	if r.Server == nil {
		return &loadgen.ServerResult{}
	}
	return r.Server
}

var (
	mDeliveries = metric{"deliveries/s", "", true, func(r *loadgen.Result) (float64, bool) { return r.DeliveryRate, true }, fmtK}
	mPublishes  = metric{"publishes/s", "", true, func(r *loadgen.Result) (float64, bool) { return r.PublishRate, true }, fmtK}
	mCPU        = metric{"server CPU-s per million deliveries", "", false, func(r *loadgen.Result) (float64, bool) {
		return server(r).CPUPerMillion, server(r).CPUPerMillion > 0
	}, fmtF2}
	mP50 = metric{"latency p50", "", false, func(r *loadgen.Result) (float64, bool) { return ms(r.Latency.P50), r.Latency.Count > 0 }, fmtMS}
	mP99 = metric{"latency p99", "", false, func(r *loadgen.Result) (float64, bool) { return ms(r.Latency.P99), r.Latency.Count > 0 }, fmtMS}
	mMax = metric{"latency max", "", false, func(r *loadgen.Result) (float64, bool) { return ms(r.Latency.Max), r.Latency.Count > 0 }, fmtMS}
	mRSS = metric{"RSS per idle subscriber", "", false, func(r *loadgen.Result) (float64, bool) {
		return server(r).RSSPerSubscriber, server(r).RSSPerSubscriber > 0
	}, fmtKB}
	mHeap = metric{"Go heap+stack per idle subscriber", "", false, func(r *loadgen.Result) (float64, bool) {
		return server(r).HeapStackPerSubscriber, server(r).HeapStackPerSubscriber > 0
	}, fmtKB}
	mPubP99 = metric{"publish p99 (acknowledged)", "", false, func(r *loadgen.Result) (float64, bool) {
		return ms(r.PublishLatency.P99), r.PublishLatency.Count > 0
	}, fmtMS}
	// mPubP99Batch is the publish p99 of batch requests: the time to
	// acknowledge a whole batch, which no figure of the peers matches.
	mPubP99Batch = metric{"publish p99 per request of a batch (acknowledged)", "", false, func(r *loadgen.Result) (float64, bool) {
		return ms(r.PublishLatency.P99), r.PublishLatency.Count > 0
	}, fmtMS}
	mResume = metric{"time until all resumed", "", false, func(r *loadgen.Result) (float64, bool) {
		if r.Storm == nil || r.Storm.Resumed < r.Storm.Dropped {
			return 0, false
		}
		return r.Storm.Seconds, true
	}, fmtS}
	mLost = metric{"events lost", "", false, func(r *loadgen.Result) (float64, bool) { return float64(r.Lost), true }, fmtInt}
)

// planFor returns the comparison's version of a scenario: the presets of
// `herald bench --scenario`, with shorter windows (so that 3 runs of
// everything take about 25 minutes), or much smaller ones with quick.
func planFor(name string, quick bool) (plan, error) {
	s, err := loadgen.LookupScenario(name)
	if err != nil {
		return plan{}, err
	}
	p := plan{name: s.Name, letter: s.Letter, cfg: s.Config}
	c := &p.cfg
	switch s.Name {
	case "idle":
		p.metrics = []metric{mRSS, mHeap}
		c.Duration = 3 * time.Second
		if quick {
			c.Subscribers, c.Duration, c.Settle = 2000, time.Second, time.Second
		}
	case "broadcast":
		p.metrics = []metric{mDeliveries, mCPU, mP99}
		c.Duration, c.Warmup = 10*time.Second, 2*time.Second
		if quick {
			c.Subscribers, c.Duration, c.Warmup = 300, 2*time.Second, 500*time.Millisecond
		}
	case "latency":
		p.metrics = []metric{mP50, mP99, mMax}
		c.Duration = 10 * time.Second
		if quick {
			c.Subscribers, c.Duration, c.Warmup = 300, 2*time.Second, 500*time.Millisecond
		}
	case "topics":
		p.metrics = []metric{mDeliveries, mCPU}
		c.Duration = 10 * time.Second
		if quick {
			c.Subscribers, c.Topics, c.Duration, c.Warmup = 1000, 1000, 2*time.Second, 500*time.Millisecond
		}
	case "topics-batch":
		p.metrics = []metric{mDeliveries, mCPU}
		p.heraldOnly, p.peersFrom = true, "topics"
		c.Duration = 10 * time.Second
		if quick {
			c.Subscribers, c.Topics, c.Duration, c.Warmup = 1000, 1000, 2*time.Second, 500*time.Millisecond
		}
	case "durable-batch":
		p.durableOnly, p.heraldOnly, p.peersFrom = true, true, "durable"
		p.metrics = []metric{mPublishes, mPubP99Batch}
		c.Duration = 10 * time.Second
		if quick {
			c.Duration, c.Warmup = 2*time.Second, 500*time.Millisecond
		}
	case "durable":
		p.durableOnly = true
		p.metrics = []metric{mPublishes, mPubP99}
		c.Duration = 10 * time.Second
		if quick {
			c.Duration, c.Warmup = 2*time.Second, 500*time.Millisecond
		}
	case "storm":
		p.metrics = []metric{mResume, mLost}
		c.Duration, c.StormAfter = 10*time.Second, 4*time.Second
		if quick {
			c.Subscribers, c.Topics, c.Duration, c.StormAfter, c.Warmup = 2000, 20, 3*time.Second, time.Second, 500*time.Millisecond
		}
	}
	return p, nil
}

// oneLine summarizes a result for the progress log.
func (p plan) oneLine(r *loadgen.Result) string {
	s := ""
	for _, m := range p.metrics {
		if v, ok := m.get(r); ok {
			s += fmt.Sprintf("%s %s; ", m.name, m.format(v))
		}
	}
	return s + fmt.Sprintf("connected %d/%d, lost %d, out of order %d", r.Connected, r.Subscribers, r.Lost, r.OutOfOrder)
}

// describe says, in one line, what the scenario runs and measures.
func (p plan) describe() string {
	c := p.cfg
	topics := "topics"
	if c.Topics == 1 {
		topics = "topic"
	}
	s := fmt.Sprintf("**%s %s**: %d subscribers, %d %s, ", p.letter, p.name, c.Subscribers, c.Topics, topics)
	switch {
	case c.Publishers == 0:
		s += "no publishing"
	case c.Rate > 0:
		s += fmt.Sprintf("%d publishers sending %.0f events/s in all", c.Publishers, c.Rate)
	default:
		s += fmt.Sprintf("%d publishers as fast as the server acknowledges", c.Publishers)
	}
	if c.Publishers > 0 {
		s += fmt.Sprintf(" (%d-byte events)", max(c.Size, loadgen.DefaultSize))
	}
	if c.Batch > 1 {
		s += fmt.Sprintf(", each request a batch of %d events to Herald's batch endpoint", c.Batch)
	}
	s += fmt.Sprintf(", %v window", c.Duration)
	if c.Warmup > 0 {
		s += fmt.Sprintf(" after %v of warm-up", c.Warmup)
	}
	if c.Storm {
		s += fmt.Sprintf("; every stream is dropped %v into it and reconnects at once with Last-Event-ID", c.StormAfter)
	}
	switch {
	case p.heraldOnly:
		s += fmt.Sprintf("; Herald only (no peer has a batch API): the peers' cells are their %s figures, one update per request, marked (%s)",
			peerLetter(p), peerLetter(p))
	case p.durableOnly:
		s += "; durable implementations only"
	}
	s += ". Reports: "
	for i, m := range p.metrics {
		if i > 0 {
			s += ", "
		}
		s += m.name
	}
	return s + "."
}

// peerLetter is the letter of the scenario whose figures stand for the
// peers in p's rows.
func peerLetter(p plan) string { return loadgen.Scenarios[p.peersFrom].Letter }

// peerPlan is the plan whose results stand for impl in p's rows: p itself,
// or, for a peer in a Herald-only scenario, the scenario it runs instead.
func (p plan) peerPlan(impl string) (plan, string) {
	if p.heraldOnly && !isHerald(impl) && p.peersFrom != "" {
		return plan{name: p.peersFrom}, " (" + peerLetter(p) + ")"
	}
	return p, ""
}
