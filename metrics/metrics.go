// Package metrics is the Prometheus implementation of the hub's metrics hook
// ([hub.Metrics]) and of the counters the HTTP layer and the store health
// check report: authentication failures, rejected publishes, publish latency
// and whether the store's engine is reachable.
//
// Nothing is registered at import time. [New] registers every collector on
// the registry it is given, so a program (or a test) can create as many
// independent [Metrics] as it has registries:
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg)
//	if err != nil { ... }
//	h := hub.New(store, hub.Options{Metrics: m})
//	mux.Handle("GET /metrics", m.Handler())
//
// Every method is safe for concurrent use. The methods the hub calls on its
// delivery path (Delivered, Published, Replayed, SubscriberAdded,
// SubscriberRemoved with a known reason) do not allocate: each is one atomic
// update of a collector resolved when [New] ran.
package metrics

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
)

// Namespace prefixes every metric name this package registers.
const Namespace = "herald"

// Registry is where [New] registers its collectors and what
// [Metrics.Handler] serves. *prometheus.Registry satisfies it.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Label values created when [New] runs: their series are exported (at zero)
// from the first scrape, so rate() and absent() work before the first event,
// and counting them never allocates. Other values are accepted and get their
// own series on first use.
var (
	closeReasons = []string{
		string(hub.ReasonClient),
		string(hub.ReasonSlow),
		string(hub.ReasonWrite),
		string(hub.ReasonExpired),
		string(hub.ReasonShutdown),
		string(hub.ReasonReplay),
	}
	authFailureKinds  = []string{"missing", "invalid", "expired", "forbidden"}
	publishErrReasons = []string{"invalid", "unauthorized", "forbidden", "unavailable", "too_large", "conflict", "timeout"}
	refusedReasons    = []string{hub.RefusedLimit, hub.RefusedClientLimit, hub.RefusedTemplates, hub.RefusedReplayBusy, hub.RefusedDraining}
)

// publishBuckets are the upper bounds, in seconds, of the publish latency
// histogram: from 50µs (an in-memory store) to 2.5s (an engine that is
// timing out), dense around the millisecond where fsync and network round
// trips fall.
var publishBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5,
}

// Metrics records Herald's counters in Prometheus collectors. Create it with
// [New]; it implements [hub.Metrics] and is safe for concurrent use.
//
// Metric names (all prefixed "herald_"):
//
//	herald_subscribers                      gauge      live subscribers
//	herald_subscribers_opened_total         counter    streams opened
//	herald_subscribers_closed_total{reason} counter    streams closed, by hub.CloseReason
//	herald_published_total                  counter    updates accepted by the store
//	herald_delivered_total                  counter    events written to subscribers (live and replayed)
//	herald_replayed_total                   counter    events sent from history
//	herald_history_gaps_total               counter    subscribers whose Last-Event-ID was not held
//	herald_auth_failures_total{kind}        counter    rejected credentials
//	herald_publish_errors_total{reason}     counter    rejected publishes
//	herald_publish_duration_seconds         histogram  time to accept a publish
//	herald_store_up                         gauge      1 when the store's engine is reachable, else 0
//	herald_subscribers_refused_total{reason} counter   subscriptions refused for a limit (hub.Refused...)
//	herald_accept_errors_total              counter    failed accepts of connections (out of file descriptors, ...)
//	herald_connections_refused_total        counter    connections closed at once: the connection limit was reached
//	herald_subscription_events_dropped_total counter   subscription events of anonymous subscribers over their rate
//
// With [Metrics.ObserveHub], each scrape also reads what the hub holds
// against its limits (0 for a limit: none):
//
//	herald_subscriber_limit, herald_queued_bytes, herald_queued_bytes_limit,
//	herald_replays, herald_replays_limit, herald_templates,
//	herald_templates_limit, herald_clients
//
// and with [Metrics.ObserveConnections] the open connections:
//
//	herald_connections, herald_connections_limit
type Metrics struct {
	subscribers  prometheus.Gauge
	opened       prometheus.Counter
	closed       labeled
	published    prometheus.Counter
	delivered    prometheus.Counter
	replayed     prometheus.Counter
	gaps         prometheus.Counter
	authFailures labeled
	publishErrs  labeled
	publishTime  prometheus.Histogram
	storeUp      prometheus.Gauge
	refused      labeled
	acceptErrs   prometheus.Counter
	connRefused  prometheus.Counter
	subEvDropped prometheus.Counter

	collectors []prometheus.Collector
	handler    http.Handler

	mu     sync.Mutex
	stats  func() hub.Stats
	conns  func() int
	connsN int
}

// Descriptors of the gauges read at each scrape.
var (
	hubGauges = []struct {
		desc *prometheus.Desc
		get  func(hub.Stats) float64
	}{
		{gaugeDesc("subscriber_limit", "Most subscribers the hub serves at once (0: no limit)."), func(s hub.Stats) float64 { return float64(s.MaxSubscribers) }},
		{gaugeDesc("queued_bytes", "Bytes of events waiting to be written to subscribers, each counted once."), func(s hub.Stats) float64 { return float64(s.QueuedBytes) }},
		{gaugeDesc("queued_bytes_limit", "Most bytes of events that may wait for subscribers (0: no limit)."), func(s hub.Stats) float64 { return float64(s.QueuedBytesLimit) }},
		{gaugeDesc("replays", "Subscriptions replaying history now."), func(s hub.Stats) float64 { return float64(s.Replays) }},
		{gaugeDesc("replays_limit", "Most subscriptions replaying history at once (0: no limit)."), func(s hub.Stats) float64 { return float64(s.ConcurrentReplays) }},
		{gaugeDesc("templates", "Distinct URI-template selectors and URL patterns subscribed to."), func(s hub.Stats) float64 { return float64(s.Templates) }},
		{gaugeDesc("templates_limit", "Most distinct URI-template selectors and URL patterns subscribed to at once (0: no limit)."), func(s hub.Stats) float64 { return float64(s.MaxTemplates) }},
		{gaugeDesc("clients", "Client addresses with at least one subscriber."), func(s hub.Stats) float64 { return float64(s.Clients) }},
	}
	connectionsDesc      = gaugeDesc("connections", "Open client connections.")
	connectionsLimitDesc = gaugeDesc("connections_limit", "Most client connections kept open at once (0: no limit).")
)

func gaugeDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, nil)
}

var (
	_ hub.Metrics          = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

// New creates a Metrics and registers it on reg, as one collector: either
// every metric above is registered or none is. If reg already holds one of
// these metrics (for instance another Metrics), New returns an error
// wrapping [prometheus.AlreadyRegisteredError]; it never panics. A nil reg
// is an error wrapping [herald.ErrInvalid]. New registers nothing else: add
// Go runtime and process collectors to reg yourself if you want them.
func New(reg Registry) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("metrics: nil registry: %w", herald.ErrInvalid)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	}
	m := &Metrics{
		subscribers: gauge("subscribers", "Subscribers connected now."),
		opened:      counter("subscribers_opened_total", "Subscriber streams opened."),
		closed: newLabeled("subscribers_closed_total",
			"Subscriber streams closed, by reason (client, slow, write, expired, shutdown, replay).",
			"reason", closeReasons),
		published: counter("published_total", "Updates accepted by the store."),
		delivered: counter("delivered_total", "Events written to subscribers, live and replayed."),
		replayed:  counter("replayed_total", "Events sent to subscribers from history."),
		gaps:      counter("history_gaps_total", "Subscribers whose Last-Event-ID was no longer held in history."),
		authFailures: newLabeled("auth_failures_total",
			"Requests rejected because of their credential, by kind.",
			"kind", authFailureKinds),
		publishErrs: newLabeled("publish_errors_total",
			"Publish requests rejected or failed, by reason.",
			"reason", publishErrReasons),
		publishTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "publish_duration_seconds",
			Help:      "Time taken to accept a publish, until the store acknowledged it.",
			Buckets:   publishBuckets,
		}),
		storeUp: gauge("store_up", "1 when the store's engine is reachable, 0 when it is not or not yet known."),
		refused: newLabeled("subscribers_refused_total",
			"Subscriptions refused because the hub or the client reached a limit, by reason.",
			"reason", refusedReasons),
		acceptErrs:  counter("accept_errors_total", "Connections that could not be accepted (out of file descriptors, ...)."),
		connRefused: counter("connections_refused_total", "Connections closed at once because the connection limit was reached."),
		subEvDropped: counter("subscription_events_dropped_total",
			"Subscription events of anonymous subscribers not announced: over their rate limit."),
	}
	m.collectors = []prometheus.Collector{
		m.subscribers, m.opened, m.closed.vec, m.published, m.delivered,
		m.replayed, m.gaps, m.authFailures.vec, m.publishErrs.vec,
		m.publishTime, m.storeUp, m.refused.vec, m.acceptErrs, m.connRefused, m.subEvDropped,
	}
	if err := reg.Register(m); err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.HTTPErrorOnError,
	})
	return m, nil
}

// Describe sends the descriptors of every metric of m, as
// [prometheus.Collector] requires. [New] has already registered m; call it
// directly only to collect m somewhere else (testutil, another registry).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
	for _, g := range hubGauges {
		ch <- g.desc
	}
	ch <- connectionsDesc
	ch <- connectionsLimitDesc
}

// Collect sends the current value of every metric of m, as
// [prometheus.Collector] requires.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors {
		c.Collect(ch)
	}
	m.mu.Lock()
	stats, conns, connsN := m.stats, m.conns, m.connsN
	m.mu.Unlock()
	if stats != nil {
		st := stats()
		for _, g := range hubGauges {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.get(st))
		}
	}
	if conns != nil {
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(conns()))
		ch <- prometheus.MustNewConstMetric(connectionsLimitDesc, prometheus.GaugeValue, float64(connsN))
	}
}

// ObserveHub makes every scrape read what a hub holds against its limits
// (pass h.Stats), exported as the gauges listed on [Metrics].
func (m *Metrics) ObserveHub(stats func() hub.Stats) {
	m.mu.Lock()
	m.stats = stats
	m.mu.Unlock()
}

// ObserveConnections makes every scrape read the number of open client
// connections (herald_connections) and export their limit
// (herald_connections_limit; 0: none).
func (m *Metrics) ObserveConnections(open func() int, limit int) {
	m.mu.Lock()
	m.conns, m.connsN = open, limit
	m.mu.Unlock()
}

// Refused counts one subscription refused for a limit, in
// herald_subscribers_refused_total{reason}; the hub.Refused... reasons are
// exported from the start.
func (m *Metrics) Refused(reason string) { m.refused.inc(reason) }

// AcceptError counts one connection that could not be accepted, in
// herald_accept_errors_total.
func (m *Metrics) AcceptError() { m.acceptErrs.Inc() }

// SubscriptionEventDropped counts one subscription event of an anonymous
// subscriber that was not announced, in
// herald_subscription_events_dropped_total.
func (m *Metrics) SubscriptionEventDropped() { m.subEvDropped.Inc() }

// ConnectionRefused counts one connection closed at once because the
// connection limit was reached, in herald_connections_refused_total.
func (m *Metrics) ConnectionRefused() { m.connRefused.Inc() }

// Handler returns an http.Handler that serves every metric in the registry
// given to [New] (not only this package's) in the Prometheus exposition
// format, negotiating OpenMetrics or protobuf when the scraper asks.
func (m *Metrics) Handler() http.Handler { return m.handler }

// SubscriberAdded counts a subscriber stream that opened: it raises
// herald_subscribers and herald_subscribers_opened_total by one.
func (m *Metrics) SubscriberAdded() {
	m.subscribers.Inc()
	m.opened.Inc()
}

// SubscriberRemoved counts a subscriber stream that closed: it lowers
// herald_subscribers by one and raises herald_subscribers_closed_total for
// reason. Every SubscriberRemoved must match one earlier SubscriberAdded.
func (m *Metrics) SubscriberRemoved(reason hub.CloseReason) {
	m.subscribers.Dec()
	m.closed.inc(string(reason))
}

// Published adds n updates accepted by the store to herald_published_total.
// n <= 0 records nothing.
func (m *Metrics) Published(n int) { add(m.published, n) }

// Delivered adds n events written to subscribers to herald_delivered_total.
// n <= 0 records nothing.
func (m *Metrics) Delivered(n int) { add(m.delivered, n) }

// Replayed adds n events sent from history to herald_replayed_total.
// n <= 0 records nothing.
func (m *Metrics) Replayed(n int) { add(m.replayed, n) }

// HistoryGap counts one subscriber whose Last-Event-ID was no longer held in
// history, in herald_history_gaps_total.
func (m *Metrics) HistoryGap() { m.gaps.Inc() }

// AuthFailure counts one request rejected because of its credential, in
// herald_auth_failures_total{kind}. The kinds "missing", "invalid",
// "expired" and "forbidden" are exported from the start; kind must come from
// a small fixed set, since each distinct value is its own series. An empty
// kind is recorded as "unknown".
func (m *Metrics) AuthFailure(kind string) { m.authFailures.inc(kind) }

// PublishError counts one publish request that was rejected or failed, in
// herald_publish_errors_total{reason}. The reasons "invalid",
// "unauthorized", "forbidden", "unavailable" and "too_large" are exported
// from the start; reason must come from a small fixed set, since each
// distinct value is its own series. An empty reason is recorded as
// "unknown".
func (m *Metrics) PublishError(reason string) { m.publishErrs.inc(reason) }

// ObservePublish records how long one publish took, until the store
// acknowledged it, in herald_publish_duration_seconds.
func (m *Metrics) ObservePublish(d time.Duration) { m.publishTime.Observe(d.Seconds()) }

// StoreUp records whether the store's engine is reachable: herald_store_up
// is 1 after StoreUp(true) and 0 after StoreUp(false). It is 0 until the
// first call, so a program must report a healthy store once it has opened it.
func (m *Metrics) StoreUp(up bool) {
	if up {
		m.storeUp.Set(1)
		return
	}
	m.storeUp.Set(0)
}

// add raises c by n when n is positive; a Counter panics on negative values,
// and the hub must not be brought down by a metric.
func add(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}
