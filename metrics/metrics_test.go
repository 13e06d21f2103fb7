package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/metrics"
)

// mustNew returns a Metrics registered on a fresh registry, and the registry.
func mustNew(tb testing.TB) (*metrics.Metrics, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return m, reg
}

// help and type lines of every metric, shared by the expected expositions.
const (
	headSubscribers = `# HELP herald_subscribers Subscribers connected now.
# TYPE herald_subscribers gauge
`
	headOpened = `# HELP herald_subscribers_opened_total Subscriber streams opened.
# TYPE herald_subscribers_opened_total counter
`
	headClosed = `# HELP herald_subscribers_closed_total Subscriber streams closed, by reason (client, slow, write, expired, shutdown, replay).
# TYPE herald_subscribers_closed_total counter
`
	headPublished = `# HELP herald_published_total Updates accepted by the store.
# TYPE herald_published_total counter
`
	headDelivered = `# HELP herald_delivered_total Events written to subscribers, live and replayed.
# TYPE herald_delivered_total counter
`
	headReplayed = `# HELP herald_replayed_total Events sent to subscribers from history.
# TYPE herald_replayed_total counter
`
	headGaps = `# HELP herald_history_gaps_total Subscribers whose Last-Event-ID was no longer held in history.
# TYPE herald_history_gaps_total counter
`
	headAuth = `# HELP herald_auth_failures_total Requests rejected because of their credential, by kind.
# TYPE herald_auth_failures_total counter
`
	headPublishErrs = `# HELP herald_publish_errors_total Publish requests rejected or failed, by reason.
# TYPE herald_publish_errors_total counter
`
	headDuration = `# HELP herald_publish_duration_seconds Time taken to accept a publish, until the store acknowledged it.
# TYPE herald_publish_duration_seconds histogram
`
	headStoreUp = `# HELP herald_store_up 1 when the store's engine is reachable, 0 when it is not or not yet known.
# TYPE herald_store_up gauge
`
	headRefused = `# HELP herald_subscribers_refused_total Subscriptions refused because the hub or the client reached a limit, by reason.
# TYPE herald_subscribers_refused_total counter
`
	headAcceptErrs = `# HELP herald_accept_errors_total Connections that could not be accepted (out of file descriptors, ...).
# TYPE herald_accept_errors_total counter
`
	headConnRefused = `# HELP herald_connections_refused_total Connections closed at once because the connection limit was reached.
# TYPE herald_connections_refused_total counter
`
	headSubEvDropped = `# HELP herald_subscription_events_dropped_total Subscription events of anonymous subscribers not announced: over their rate limit.
# TYPE herald_subscription_events_dropped_total counter
`
)

// allNames lists every metric New registers.
var allNames = []string{
	"herald_subscribers",
	"herald_subscribers_opened_total",
	"herald_subscribers_closed_total",
	"herald_published_total",
	"herald_delivered_total",
	"herald_replayed_total",
	"herald_history_gaps_total",
	"herald_auth_failures_total",
	"herald_publish_errors_total",
	"herald_publish_duration_seconds",
	"herald_store_up",
	"herald_subscribers_refused_total",
	"herald_accept_errors_total",
	"herald_connections_refused_total",
	"herald_subscription_events_dropped_total",
}

// zeroDuration is the publish histogram with no observation.
const zeroDuration = headDuration + `herald_publish_duration_seconds_bucket{le="5e-05"} 0
herald_publish_duration_seconds_bucket{le="0.0001"} 0
herald_publish_duration_seconds_bucket{le="0.00025"} 0
herald_publish_duration_seconds_bucket{le="0.0005"} 0
herald_publish_duration_seconds_bucket{le="0.001"} 0
herald_publish_duration_seconds_bucket{le="0.0025"} 0
herald_publish_duration_seconds_bucket{le="0.005"} 0
herald_publish_duration_seconds_bucket{le="0.01"} 0
herald_publish_duration_seconds_bucket{le="0.025"} 0
herald_publish_duration_seconds_bucket{le="0.05"} 0
herald_publish_duration_seconds_bucket{le="0.1"} 0
herald_publish_duration_seconds_bucket{le="0.25"} 0
herald_publish_duration_seconds_bucket{le="0.5"} 0
herald_publish_duration_seconds_bucket{le="1"} 0
herald_publish_duration_seconds_bucket{le="2.5"} 0
herald_publish_duration_seconds_bucket{le="+Inf"} 0
herald_publish_duration_seconds_sum 0
herald_publish_duration_seconds_count 0
`

// TestNewExportsEveryMetricAtZero checks the whole exposition of a new
// Metrics: every name, type and help text, and the known label values
// present at zero before anything happened.
func TestNewExportsEveryMetricAtZero(t *testing.T) {
	_, reg := mustNew(t)
	want := headSubscribers + "herald_subscribers 0\n" +
		headOpened + "herald_subscribers_opened_total 0\n" +
		headClosed + `herald_subscribers_closed_total{reason="client"} 0
herald_subscribers_closed_total{reason="expired"} 0
herald_subscribers_closed_total{reason="replay"} 0
herald_subscribers_closed_total{reason="shutdown"} 0
herald_subscribers_closed_total{reason="slow"} 0
herald_subscribers_closed_total{reason="write"} 0
` + headPublished + "herald_published_total 0\n" +
		headDelivered + "herald_delivered_total 0\n" +
		headReplayed + "herald_replayed_total 0\n" +
		headGaps + "herald_history_gaps_total 0\n" +
		headAuth + `herald_auth_failures_total{kind="expired"} 0
herald_auth_failures_total{kind="forbidden"} 0
herald_auth_failures_total{kind="invalid"} 0
herald_auth_failures_total{kind="missing"} 0
` + headPublishErrs + `herald_publish_errors_total{reason="conflict"} 0
herald_publish_errors_total{reason="forbidden"} 0
herald_publish_errors_total{reason="invalid"} 0
herald_publish_errors_total{reason="timeout"} 0
herald_publish_errors_total{reason="too_large"} 0
herald_publish_errors_total{reason="unauthorized"} 0
herald_publish_errors_total{reason="unavailable"} 0
` + zeroDuration + headStoreUp + "herald_store_up 0\n" + headRefused + `herald_subscribers_refused_total{reason="client_limit"} 0
herald_subscribers_refused_total{reason="draining"} 0
herald_subscribers_refused_total{reason="limit"} 0
herald_subscribers_refused_total{reason="replay_busy"} 0
herald_subscribers_refused_total{reason="templates"} 0
` + headAcceptErrs + "herald_accept_errors_total 0\n" + headConnRefused + "herald_connections_refused_total 0\n" +
		headSubEvDropped + "herald_subscription_events_dropped_total 0\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if got, err := testutil.GatherAndCount(reg); err != nil || got != 15+5+3+6+4 {
		// 15 families; closed, auth, publish errors and refusals add 5,
		// 3, 6 and 4 series.
		t.Fatalf("GatherAndCount = %d, %v; want 33 series", got, err)
	}
}

func TestNewNilRegistry(t *testing.T) {
	m, err := metrics.New(nil)
	if !errors.Is(err, herald.ErrInvalid) || m != nil {
		t.Fatalf("New(nil) = %v, %v; want nil, an error wrapping herald.ErrInvalid", m, err)
	}
}

// TestNewTwiceOnOneRegistry checks that a second Metrics on the same registry
// is an error, not a panic, and leaves the first one registered and working.
func TestNewTwiceOnOneRegistry(t *testing.T) {
	first, reg := mustNew(t)
	second, err := metrics.New(reg)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || second != nil {
		t.Fatalf("second New = %v, %v; want nil, an error wrapping AlreadyRegisteredError", second, err)
	}
	first.Published(4)
	if got := value(t, reg, "herald_published_total", "", ""); got != 4 {
		t.Fatalf("herald_published_total = %v, want 4", got)
	}
}

// TestNewRegistersAllOrNothing checks that when one name is taken, New
// registers none of its metrics.
func TestNewRegistersAllOrNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	taken := prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_published_total", Help: "someone else's"})
	reg.MustRegister(taken)
	if m, err := metrics.New(reg); err == nil {
		t.Fatalf("New = %v, nil; want an error, herald_published_total is taken", m)
	}
	for _, name := range allNames {
		if name == "herald_published_total" {
			continue
		}
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 0 {
			t.Errorf("after a failed New, %s has %d series (%v); want none", name, n, err)
		}
	}
}

// TestRegistriesAreIndependent checks that Metrics on different registries
// share no state (no global registration at import time).
func TestRegistriesAreIndependent(t *testing.T) {
	a, regA := mustNew(t)
	_, regB := mustNew(t)
	a.Delivered(7)
	if got := value(t, regA, "herald_delivered_total", "", ""); got != 7 {
		t.Errorf("registry A: herald_delivered_total = %v, want 7", got)
	}
	if got := value(t, regB, "herald_delivered_total", "", ""); got != 0 {
		t.Errorf("registry B: herald_delivered_total = %v, want 0", got)
	}
}

func TestSubscribers(t *testing.T) {
	m, _ := mustNew(t)
	for range 3 {
		m.SubscriberAdded()
	}
	m.SubscriberRemoved(hub.ReasonSlow)
	m.SubscriberRemoved(hub.ReasonSlow)
	m.SubscriberAdded()
	m.SubscriberRemoved(hub.ReasonExpired)
	m.SubscriberRemoved(hub.CloseReason("evicted")) // not a known reason: its own series
	want := headSubscribers + "herald_subscribers 0\n" +
		headOpened + "herald_subscribers_opened_total 4\n" +
		headClosed + `herald_subscribers_closed_total{reason="client"} 0
herald_subscribers_closed_total{reason="evicted"} 1
herald_subscribers_closed_total{reason="expired"} 1
herald_subscribers_closed_total{reason="replay"} 0
herald_subscribers_closed_total{reason="shutdown"} 0
herald_subscribers_closed_total{reason="slow"} 2
herald_subscribers_closed_total{reason="write"} 0
`
	err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"herald_subscribers", "herald_subscribers_opened_total", "herald_subscribers_closed_total")
	if err != nil {
		t.Fatal(err)
	}
}

func TestEventCounters(t *testing.T) {
	m, reg := mustNew(t)
	m.Published(1)
	m.Published(2)
	m.Delivered(10)
	m.Delivered(0)  // nothing
	m.Delivered(-3) // nothing, and no panic
	m.Replayed(5)
	m.Published(-1)
	m.Replayed(0)
	m.HistoryGap()
	m.HistoryGap()
	for name, want := range map[string]float64{
		"herald_published_total":    3,
		"herald_delivered_total":    10,
		"herald_replayed_total":     5,
		"herald_history_gaps_total": 2,
	} {
		if got := value(t, reg, name, "", ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestAuthFailuresAndPublishErrors(t *testing.T) {
	m, _ := mustNew(t)
	m.AuthFailure("missing")
	m.AuthFailure("expired")
	m.AuthFailure("expired")
	m.AuthFailure("bad_alg") // unknown kinds get their own series
	m.AuthFailure("")        // recorded as "unknown"
	m.PublishError("unavailable")
	m.PublishError("unavailable")
	m.PublishError("unavailable")
	m.PublishError("too_large")
	want := headAuth + `herald_auth_failures_total{kind="bad_alg"} 1
herald_auth_failures_total{kind="expired"} 2
herald_auth_failures_total{kind="forbidden"} 0
herald_auth_failures_total{kind="invalid"} 0
herald_auth_failures_total{kind="missing"} 1
herald_auth_failures_total{kind="unknown"} 1
` + headPublishErrs + `herald_publish_errors_total{reason="conflict"} 0
herald_publish_errors_total{reason="forbidden"} 0
herald_publish_errors_total{reason="invalid"} 0
herald_publish_errors_total{reason="timeout"} 0
herald_publish_errors_total{reason="too_large"} 1
herald_publish_errors_total{reason="unauthorized"} 0
herald_publish_errors_total{reason="unavailable"} 3
`
	err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"herald_auth_failures_total", "herald_publish_errors_total")
	if err != nil {
		t.Fatal(err)
	}
}

func TestStoreUp(t *testing.T) {
	m, reg := mustNew(t)
	for i, step := range []struct {
		up   bool
		want float64
	}{{true, 1}, {true, 1}, {false, 0}, {true, 1}, {false, 0}} {
		m.StoreUp(step.up)
		if got := value(t, reg, "herald_store_up", "", ""); got != step.want {
			t.Fatalf("step %d: after StoreUp(%v), herald_store_up = %v, want %v", i, step.up, got, step.want)
		}
	}
}

func TestObservePublish(t *testing.T) {
	m, _ := mustNew(t)
	m.ObservePublish(30 * time.Microsecond)
	m.ObservePublish(200 * time.Microsecond)
	m.ObservePublish(3 * time.Millisecond)
	m.ObservePublish(3 * time.Millisecond)
	m.ObservePublish(4 * time.Second) // beyond the last bucket: only in +Inf
	want := headDuration + `herald_publish_duration_seconds_bucket{le="5e-05"} 1
herald_publish_duration_seconds_bucket{le="0.0001"} 1
herald_publish_duration_seconds_bucket{le="0.00025"} 2
herald_publish_duration_seconds_bucket{le="0.0005"} 2
herald_publish_duration_seconds_bucket{le="0.001"} 2
herald_publish_duration_seconds_bucket{le="0.0025"} 2
herald_publish_duration_seconds_bucket{le="0.005"} 4
herald_publish_duration_seconds_bucket{le="0.01"} 4
herald_publish_duration_seconds_bucket{le="0.025"} 4
herald_publish_duration_seconds_bucket{le="0.05"} 4
herald_publish_duration_seconds_bucket{le="0.1"} 4
herald_publish_duration_seconds_bucket{le="0.25"} 4
herald_publish_duration_seconds_bucket{le="0.5"} 4
herald_publish_duration_seconds_bucket{le="1"} 4
herald_publish_duration_seconds_bucket{le="2.5"} 4
herald_publish_duration_seconds_bucket{le="+Inf"} 5
herald_publish_duration_seconds_sum 4.00623
herald_publish_duration_seconds_count 5
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "herald_publish_duration_seconds"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUse hammers every method from several goroutines (run with
// -race) and checks that no update was lost.
func TestConcurrentUse(t *testing.T) {
	m, reg := mustNew(t)
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range rounds {
				m.SubscriberAdded()
				m.Published(1)
				m.Delivered(3)
				m.Replayed(2)
				m.HistoryGap()
				m.AuthFailure("invalid")
				m.AuthFailure("kind" + string(rune('a'+w%2))) // unknown kinds created concurrently
				m.PublishError("forbidden")
				m.ObservePublish(time.Millisecond)
				m.StoreUp(w%2 == 0)
				m.SubscriberRemoved(hub.ReasonClient)
			}
		})
	}
	wg.Wait()
	const n = workers * rounds
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"herald_subscribers", "", "", 0},
		{"herald_subscribers_opened_total", "", "", n},
		{"herald_subscribers_closed_total", "reason", "client", n},
		{"herald_published_total", "", "", n},
		{"herald_delivered_total", "", "", 3 * n},
		{"herald_replayed_total", "", "", 2 * n},
		{"herald_history_gaps_total", "", "", n},
		{"herald_auth_failures_total", "kind", "invalid", n},
		{"herald_auth_failures_total", "kind", "kinda", n / 2},
		{"herald_auth_failures_total", "kind", "kindb", n / 2},
		{"herald_publish_errors_total", "reason", "forbidden", n},
		{"herald_publish_duration_seconds", "", "", n},
	} {
		if got := value(t, reg, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
}

// TestHandlerServesTheRegistry scrapes Handler over real HTTP: the
// exposition has this package's metrics with their values, and any other
// collector registered on the same registry.
func TestHandlerServesTheRegistry(t *testing.T) {
	m, reg := mustNew(t)
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_requests_total", Help: "The application's own counter."})
	reg.MustRegister(other)
	other.Add(9)

	m.SubscriberAdded()
	m.SubscriberAdded()
	m.SubscriberAdded()
	m.SubscriberRemoved(hub.ReasonShutdown)
	m.Published(12)
	m.Delivered(42)
	m.Replayed(6)
	m.HistoryGap()
	m.AuthFailure("forbidden")
	m.PublishError("invalid")
	m.ObservePublish(2 * time.Millisecond)
	m.StoreUp(true)

	ts := httptest.NewServer(m.Handler())
	defer ts.Close()

	want := headSubscribers + "herald_subscribers 2\n" +
		headOpened + "herald_subscribers_opened_total 3\n" +
		headPublished + "herald_published_total 12\n" +
		headDelivered + "herald_delivered_total 42\n" +
		headReplayed + "herald_replayed_total 6\n" +
		headGaps + "herald_history_gaps_total 1\n" +
		headStoreUp + "herald_store_up 1\n" +
		"# HELP app_requests_total The application's own counter.\n# TYPE app_requests_total counter\napp_requests_total 9\n"
	err := testutil.ScrapeAndCompare(ts.URL, strings.NewReader(want),
		"herald_subscribers", "herald_subscribers_opened_total", "herald_published_total",
		"herald_delivered_total", "herald_replayed_total", "herald_history_gaps_total",
		"herald_store_up", "app_requests_total")
	if err != nil {
		t.Fatal(err)
	}

	// The plain text a Prometheus server or curl sees.
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	for _, line := range []string{
		`herald_subscribers 2`,
		`herald_subscribers_closed_total{reason="shutdown"} 1`,
		`herald_subscribers_closed_total{reason="slow"} 0`,
		`herald_delivered_total 42`,
		`herald_auth_failures_total{kind="forbidden"} 1`,
		`herald_publish_errors_total{reason="invalid"} 1`,
		`herald_publish_errors_total{reason="unavailable"} 0`,
		`herald_publish_duration_seconds_bucket{le="0.0025"} 1`,
		`herald_publish_duration_seconds_count 1`,
		`herald_store_up 1`,
		`app_requests_total 9`,
	} {
		if !containsLine(string(body), line) {
			t.Errorf("exposition lacks the line %q; got:\n%s", line, body)
		}
	}
}

// TestHotPathDoesNotAllocate checks that every method the hub and the HTTP
// layer call per event or per request allocates nothing for known label
// values.
func TestHotPathDoesNotAllocate(t *testing.T) {
	m, _ := mustNew(t)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Delivered", func() { m.Delivered(3) }},
		{"Published", func() { m.Published(1) }},
		{"Replayed", func() { m.Replayed(2) }},
		{"SubscriberAdded", m.SubscriberAdded},
		{"SubscriberRemoved", func() { m.SubscriberRemoved(hub.ReasonSlow) }},
		{"HistoryGap", m.HistoryGap},
		{"AuthFailure", func() { m.AuthFailure("expired") }},
		{"PublishError", func() { m.PublishError("unavailable") }},
		{"ObservePublish", func() { m.ObservePublish(700 * time.Microsecond) }},
		{"StoreUp", func() { m.StoreUp(true) }},
	} {
		if allocs := testing.AllocsPerRun(1000, c.f); allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, allocs)
		}
	}
}

func BenchmarkDelivered(b *testing.B) {
	m, _ := mustNew(b)
	b.ReportAllocs()
	for b.Loop() {
		m.Delivered(1)
	}
}

// BenchmarkDeliveredParallel measures Delivered when every core delivers at
// once, as the hub's writers do: they contend on one atomic counter.
func BenchmarkDeliveredParallel(b *testing.B) {
	m, _ := mustNew(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Delivered(1)
		}
	})
}

func BenchmarkSubscriberRemoved(b *testing.B) {
	m, _ := mustNew(b)
	b.ReportAllocs()
	for b.Loop() {
		m.SubscriberRemoved(hub.ReasonClient)
	}
}

// value returns the value of the series name (with label=lv when label is
// not empty) gathered from g: a counter's or gauge's value, a histogram's
// count. It returns 0 when the metric has no such series yet.
func value(t *testing.T, g prometheus.Gatherer, name, label, lv string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if label != "" && !hasLabel(s.GetLabel(), label, lv) {
				continue
			}
			switch {
			case s.Counter != nil:
				return s.GetCounter().GetValue()
			case s.Gauge != nil:
				return s.GetGauge().GetValue()
			case s.Histogram != nil:
				return float64(s.GetHistogram().GetSampleCount())
			}
			t.Fatalf("%s is not a counter, gauge or histogram", name)
		}
		return 0
	}
	t.Fatalf("%s is not registered", name)
	return 0
}

func hasLabel(pairs []*dto.LabelPair, name, value string) bool {
	for _, p := range pairs {
		if p.GetName() == name && p.GetValue() == value {
			return true
		}
	}
	return false
}

// containsLine reports whether text has line as one whole line.
func containsLine(text, line string) bool {
	for l := range strings.Lines(text) {
		if strings.TrimSuffix(l, "\n") == line {
			return true
		}
	}
	return false
}

// TestObserveHubAndConnections: the gauges of what the hub holds against its
// limits are read at each scrape, and refusals are counted by reason.
func TestObserveHubAndConnections(t *testing.T) {
	m, reg := mustNew(t)
	stats := hub.Stats{MaxSubscribers: 100, QueuedBytes: 4096, QueuedBytesLimit: 1 << 20, Replays: 2,
		ConcurrentReplays: 8, Templates: 3, MaxTemplates: 50, Clients: 7}
	m.ObserveHub(func() hub.Stats { return stats })
	open := 12
	m.ObserveConnections(func() int { return open }, 500)
	m.Refused(hub.RefusedClientLimit)
	m.Refused(hub.RefusedClientLimit)
	m.AcceptError()
	m.ConnectionRefused()
	for name, want := range map[string]float64{
		"herald_subscriber_limit":          100,
		"herald_queued_bytes":              4096,
		"herald_queued_bytes_limit":        1 << 20,
		"herald_replays":                   2,
		"herald_replays_limit":             8,
		"herald_templates":                 3,
		"herald_templates_limit":           50,
		"herald_clients":                   7,
		"herald_connections":               12,
		"herald_connections_limit":         500,
		"herald_accept_errors_total":       1,
		"herald_connections_refused_total": 1,
	} {
		if got := value(t, reg, name, "", ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := value(t, reg, "herald_subscribers_refused_total", "reason", hub.RefusedClientLimit); got != 2 {
		t.Errorf("refused for client_limit = %v, want 2", got)
	}
	// Each scrape reads the current values.
	stats.QueuedBytes, open = 0, 3
	if got := value(t, reg, "herald_queued_bytes", "", ""); got != 0 {
		t.Errorf("herald_queued_bytes after the queues emptied = %v, want 0", got)
	}
	if got := value(t, reg, "herald_connections", "", ""); got != 3 {
		t.Errorf("herald_connections = %v, want 3", got)
	}
}
