package loadgen

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what a run measured. Rates and the server's CPU time cover the
// measured window only; the accounting of events (Expected, Received, Lost,
// OutOfOrder) covers the whole run, warm-up and drain included.
type Result struct {
	Scenario    string  `json:"scenario,omitempty"`
	Hub         string  `json:"hub"`
	Subscribers int     `json:"subscribers"`
	Topics      int     `json:"topics"`
	Publishers  int     `json:"publishers"`
	Batch       int     `json:"batch,omitempty"` // events per publish request, when above 1
	Rate        float64 `json:"rate"`
	Size        int     `json:"size"`
	Workers     int     `json:"workers"`
	Window      float64 `json:"window_s"`

	Connected      int     `json:"connected"`
	ConnectErrors  int     `json:"connect_errors"`
	ConnectSeconds float64 `json:"connect_s"`
	ConnectRate    float64 `json:"connects_per_s"`

	Published      uint64  `json:"published"`
	PublishRate    float64 `json:"publishes_per_s"`
	PublishLatency Summary `json:"publish_latency"`

	Deliveries   uint64  `json:"deliveries"`
	DeliveryRate float64 `json:"deliveries_per_s"`
	Latency      Summary `json:"latency"`

	// Over the whole run: acknowledged publications, failed ones (and of
	// those, the ones whose answer was lost: the hub may have published
	// them, and subscribers then see them as lost), events due to the
	// subscribers, received in order, missing, and received out of order or
	// twice; events that were not the load generator's.
	TotalPublished uint64 `json:"total_published"`
	PublishErrors  uint64 `json:"publish_errors"`
	PublishUnsure  uint64 `json:"publish_unsure"`
	Expected       uint64 `json:"expected"`
	Received       uint64 `json:"received"`
	Lost           uint64 `json:"lost"`
	OutOfOrder     uint64 `json:"out_of_order"`
	Foreign        uint64 `json:"foreign"`
	// Streams the hub or the network ended (each reconnects with
	// Last-Event-ID), reconnections, and failed connection attempts.
	Disconnects  int    `json:"disconnects"`
	Reconnects   int    `json:"reconnects"`
	StreamErrors int    `json:"stream_errors"`
	FirstError   string `json:"first_error,omitempty"`

	Storm  *StormResult  `json:"storm,omitempty"`
	Server *ServerResult `json:"server,omitempty"`
	// LoadgenCPU is the CPU time the load generator (with its workers) used
	// during the window.
	LoadgenCPU float64 `json:"loadgen_cpu_s"`
}

// StormResult is what a reconnection storm measured.
type StormResult struct {
	Dropped int `json:"dropped"`
	Resumed int `json:"resumed"`
	// Seconds from the drop until the last stream was open again.
	Seconds float64 `json:"resume_s"`
	Errors  int     `json:"errors"`
}

// ServerResult is what /proc (and the hub's memstats endpoint) said about
// the hub's process.
type ServerResult struct {
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPerMillion is CPUSeconds per million deliveries (per million
	// publications when nothing was delivered).
	CPUPerMillion    float64 `json:"cpu_s_per_million"`
	RSSBefore        int64   `json:"rss_before_bytes"`
	RSSConnected     int64   `json:"rss_connected_bytes"`
	RSSEnd           int64   `json:"rss_end_bytes"`
	RSSPerSubscriber float64 `json:"rss_per_subscriber_bytes"`
	// HeapStackPerSubscriber is the growth of the Go heap and stacks in use
	// while the subscribers connected, per subscriber (with MemStatsURL).
	HeapStackPerSubscriber float64 `json:"heap_stack_per_subscriber_bytes,omitempty"`
}

// Run runs one benchmark against cfg.Hub and returns what it measured. Every
// phase is bounded: connecting (by the dial timeouts), the window
// (cfg.Duration), the drain (cfg.DrainTimeout) and shutdown; when ctx ends,
// Run stops early, closes every connection and worker, and returns ctx's
// error. Lost events are reported in the Result, not as an error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tgt, _ := parseTarget(cfg.Hub, cfg.Insecure)
	res := &Result{
		Scenario: cfg.Scenario, Hub: cfg.Hub, Subscribers: cfg.Subscribers, Topics: cfg.Topics,
		Publishers: cfg.Publishers, Rate: cfg.Rate, Size: cfg.Size, Workers: cfg.Workers,
	}
	if cfg.Batch > 1 {
		res.Batch = cfg.Batch
	}
	start := time.Now()
	var phase atomic.Pointer[string]
	setPhase := func(s string) { phase.Store(&s) }
	setPhase("connect")

	var srv ServerResult
	var srvCPU0 time.Duration
	sample := func() procSample {
		if cfg.ServerPID == 0 {
			return procSample{}
		}
		s, err := sampleProc(cfg.ServerPID)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: sampling the server: %v\n", err)
		}
		return s
	}
	srv.RSSBefore = sample().RSS
	var mem0 memStats
	if cfg.MemStatsURL != "" {
		m, err := fetchMemStats(cfg.MemStatsURL)
		if err != nil {
			return nil, err
		}
		mem0 = m
	}

	// Subscriber groups.
	var groups []group
	closeGroups := func() {
		var wg sync.WaitGroup
		for _, g := range groups {
			wg.Go(func() { g.close(10 * time.Second) })
		}
		wg.Wait()
	}
	defer closeGroups()
	if cfg.Subscribers > 0 {
		for _, gc := range cfg.groupConfigs() {
			if cfg.Workers > 0 {
				p, err := startWorker(ctx, cfg.WorkerCommand, gc, os.Stderr)
				if err != nil {
					return nil, err
				}
				groups = append(groups, p)
			} else {
				g, err := newLocalGroup(gc)
				if err != nil {
					return nil, err
				}
				groups = append(groups, g)
			}
		}
	}
	var ps *publishers
	if cfg.Publishers > 0 {
		ps = newPublishers(&cfg, tgt)
	}

	// Progress, about once a second.
	stopProgress := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			var lastD, lastP uint64
			last := time.Now()
			for {
				select {
				case <-stopProgress:
					return
				case now := <-t.C:
					p := Progress{Phase: *phase.Load(), Elapsed: now.Sub(start), Subscribers: cfg.Subscribers}
					for _, g := range groups {
						c := g.progress()
						p.Connected += c.Connected
						p.Deliveries += c.Deliveries
						p.Errors += c.Errors
					}
					if ps != nil {
						acked, errs, _ := ps.counts()
						p.Published = acked
						p.Errors += int(errs)
					}
					dt := now.Sub(last).Seconds()
					p.DeliveryRate = float64(p.Deliveries-lastD) / dt
					p.PublishRate = float64(p.Published-lastP) / dt
					lastD, lastP, last = p.Deliveries, p.Published, now
					cfg.Progress(p)
				}
			}
		})
	}
	defer func() { close(stopProgress); progressWG.Wait() }()

	// Connect.
	connStart := time.Now()
	stats := make([]connectStats, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() { stats[i] = g.connect(ctx) })
	}
	wg.Wait()
	connDur := time.Since(connStart)
	for _, s := range stats {
		res.Connected += s.Connected
		res.ConnectErrors += s.Errors
		if res.FirstError == "" {
			res.FirstError = s.FirstError
		}
	}
	res.ConnectSeconds = connDur.Seconds()
	if res.Connected > 0 {
		res.ConnectRate = float64(res.Connected) / connDur.Seconds()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Subscribers > 0 && res.Connected == 0 {
		return nil, fmt.Errorf("loadgen: no subscriber could connect: %s", res.FirstError)
	}
	setPhase("settle")
	if err := sleep(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	srv.RSSConnected = sample().RSS
	if cfg.MemStatsURL != "" && cfg.Subscribers > 0 {
		if m, err := fetchMemStats(cfg.MemStatsURL); err == nil {
			srv.HeapStackPerSubscriber = float64(m.HeapInuse+m.StackInuse-mem0.HeapInuse-mem0.StackInuse) / float64(max(res.Connected, 1))
		}
	}

	// Publish: warm up, then measure.
	pctx, stopPublishing := context.WithCancel(ctx)
	defer stopPublishing()
	if ps != nil {
		ps.start(pctx, cfg.Rate)
	}
	if cfg.Warmup > 0 {
		setPhase("warmup")
		if err := sleep(ctx, cfg.Warmup); err != nil {
			return nil, err
		}
	}
	setPhase("measure")
	record := func(on bool) (d uint64, cpu time.Duration) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, g := range groups {
			wg.Go(func() {
				gd, gc := g.record(on)
				mu.Lock()
				d += gd
				cpu += gc
				mu.Unlock()
			})
		}
		wg.Wait()
		return d, cpu + selfCPU()
	}
	var pub0 uint64
	if ps != nil {
		ps.hist.Reset()
		pub0, _, _ = ps.counts()
	}
	d0, lgCPU0 := record(true)
	srvCPU0 = sample().CPU
	t0 := time.Now()

	if cfg.Storm && len(groups) > 0 {
		if err := sleep(ctx, cfg.StormAfter); err != nil {
			return nil, err
		}
		setPhase("storm")
		st := make([]stormStats, len(groups))
		var wg sync.WaitGroup
		for i, g := range groups {
			wg.Go(func() { st[i] = g.storm(ctx, 60*time.Second) })
		}
		wg.Wait()
		sr := &StormResult{}
		for _, s := range st {
			sr.Dropped += s.Dropped
			sr.Resumed += s.Resumed
			sr.Errors += s.Errors
			sr.Seconds = max(sr.Seconds, s.Duration.Seconds())
		}
		res.Storm = sr
		setPhase("measure")
	}
	if err := sleep(ctx, time.Until(t0.Add(cfg.Duration))); err != nil {
		return nil, err
	}
	d1, lgCPU1 := record(false)
	srvCPU1 := sample().CPU
	window := time.Since(t0)
	res.Window = window.Seconds()
	res.Deliveries = d1 - d0
	res.DeliveryRate = float64(res.Deliveries) / window.Seconds()
	res.LoadgenCPU = (lgCPU1 - lgCPU0).Seconds()
	if ps != nil {
		pub1, _, _ := ps.counts()
		res.Published = pub1 - pub0
		res.PublishRate = float64(res.Published) / window.Seconds()
		res.PublishLatency = ps.hist.Summary()
	}

	// Stop publishing, then wait for the last events.
	setPhase("drain")
	stopPublishing()
	var finals [][]uint64
	if ps != nil {
		if !ps.wait(10 * time.Second) {
			return nil, fmt.Errorf("loadgen: publishers did not stop")
		}
		finals = ps.finals(cfg.Topics)
		res.TotalPublished, res.PublishErrors, res.PublishUnsure = ps.counts()
		if res.FirstError == "" {
			res.FirstError = ps.firstError()
		}
	}
	results := make([]groupResult, len(groups))
	for i, g := range groups {
		wg.Go(func() { results[i] = g.drain(ctx, finals, cfg.DrainTimeout) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var lat Histogram
	for _, r := range results {
		res.Expected += r.Expected
		res.Received += r.Received
		res.Lost += r.Lost
		res.OutOfOrder += r.OutOfOrder
		res.Foreign += r.Foreign
		res.Disconnects += r.Disconnects
		res.Reconnects += r.Reconnects
		res.StreamErrors += r.Errors
		if res.FirstError == "" {
			res.FirstError = r.FirstError
		}
		lat.mergeJSON(r.Latency)
	}
	res.Latency = lat.Summary()

	if cfg.ServerPID != 0 {
		srv.RSSEnd = sample().RSS
		srv.CPUSeconds = (srvCPU1 - srvCPU0).Seconds()
		switch {
		case res.Deliveries > 0:
			srv.CPUPerMillion = srv.CPUSeconds / (float64(res.Deliveries) / 1e6)
		case res.Published > 0:
			srv.CPUPerMillion = srv.CPUSeconds / (float64(res.Published) / 1e6)
		}
		if res.Connected > 0 {
			srv.RSSPerSubscriber = float64(srv.RSSConnected-srv.RSSBefore) / float64(res.Connected)
		}
	}
	if cfg.ServerPID != 0 || cfg.MemStatsURL != "" {
		res.Server = &srv
	}
	return res, nil
}

// wait waits for the publishers to stop; after timeout it cuts their
// connections so that they do.
func (ps *publishers) wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { ps.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
	}
	for _, p := range ps.list {
		p.interrupt()
	}
	select {
	case <-done:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriteTable writes r as a human-readable summary.
func (r *Result) WriteTable(w io.Writer) error {
	var b tableWriter
	name := r.Scenario
	if name == "" {
		name = "custom"
	}
	batches := ""
	if r.Batch > 1 {
		batches = fmt.Sprintf(" in batches of %d", r.Batch)
	}
	b.row("scenario", "%s: %d subscribers, %d topics, %d publishers%s, rate %s, %d-byte events, %d workers",
		name, r.Subscribers, r.Topics, r.Publishers, batches, rateString(r.Rate), r.Size, r.Workers)
	b.row("hub", "%s", r.Hub)
	if r.Subscribers > 0 {
		b.row("connect", "%d connected, %d errors, in %.2fs (%s/s)", r.Connected, r.ConnectErrors, r.ConnectSeconds, si(r.ConnectRate))
	}
	b.row("window", "%.2fs", r.Window)
	if r.Publishers > 0 {
		b.row("publishes", "%s/s acknowledged (%d in the window; %d errors in all)", si(r.PublishRate), r.Published, r.PublishErrors)
		if r.Batch > 1 {
			b.row("publish latency", "%s (per request of %d events)", latencyString(r.PublishLatency), r.Batch)
		} else {
			b.row("publish latency", "%s", latencyString(r.PublishLatency))
		}
	}
	if r.Subscribers > 0 && r.Publishers > 0 {
		b.row("deliveries", "%s/s (%d in the window)", si(r.DeliveryRate), r.Deliveries)
		b.row("latency", "%s", latencyString(r.Latency))
		b.row("accounting", "%d expected, %d received, %d lost, %d out of order or duplicated",
			r.Expected, r.Received, r.Lost, r.OutOfOrder)
	}
	if r.Disconnects > 0 || r.Reconnects > 0 || r.StreamErrors > 0 || r.Foreign > 0 {
		b.row("streams", "%d ended by the hub or network, %d reconnections, %d failed attempts, %d foreign events",
			r.Disconnects, r.Reconnects, r.StreamErrors, r.Foreign)
	}
	if r.Storm != nil {
		b.row("storm", "%d dropped, %d resumed in %.2fs, %d errors", r.Storm.Dropped, r.Storm.Resumed, r.Storm.Seconds, r.Storm.Errors)
	}
	if s := r.Server; s != nil {
		if s.CPUSeconds > 0 || s.RSSEnd > 0 {
			per := "deliveries"
			if r.Deliveries == 0 {
				per = "publishes"
			}
			b.row("server CPU", "%.2fs in the window (%.2f CPU-s per million %s)", s.CPUSeconds, s.CPUPerMillion, per)
			b.row("server RSS", "%s before, %s connected, %s at the end; %s per subscriber",
				bytesString(float64(s.RSSBefore)), bytesString(float64(s.RSSConnected)), bytesString(float64(s.RSSEnd)), bytesString(s.RSSPerSubscriber))
		}
		if s.HeapStackPerSubscriber != 0 {
			b.row("server heap+stack", "%s per subscriber", bytesString(s.HeapStackPerSubscriber))
		}
	}
	b.row("load generator", "%.2f CPU-s in the window", r.LoadgenCPU)
	if r.FirstError != "" {
		b.row("first error", "%s", r.FirstError)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
