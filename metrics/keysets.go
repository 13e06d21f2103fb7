package metrics

import (
	"fmt"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/prometheus/client_golang/prometheus"
)

// Descriptors of the JWK Set metrics, labelled by the set's URL.
var (
	jwksKeysDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "jwks", "keys"),
		"Usable keys the JWK Set holds now.", []string{"url"}, nil)
	jwksUpDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "jwks", "up"),
		"1 when the last fetch of the JWK Set succeeded, 0 when it failed (the keys fetched before stay in use).", []string{"url"}, nil)
	jwksLastRefreshDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "jwks", "last_refresh_timestamp_seconds"),
		"When the JWK Set was last fetched successfully, in seconds since the Unix epoch.", []string{"url"}, nil)
	jwksRefreshesDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "jwks", "refreshes_total"),
		"Successful fetches of the JWK Set, the first one included.", []string{"url"}, nil)
	jwksFailuresDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "jwks", "refresh_failures_total"),
		"Failed fetches of the JWK Set.", []string{"url"}, nil)
	jwksRateLimitedDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "jwks", "rate_limited_total"),
		"Fetches of the JWK Set that tokens with an unknown kid asked for and the rate limit refused.", []string{"url"}, nil)
)

// keySetCollector reads the status of key sets at each scrape.
type keySetCollector struct {
	sets auth.KeySetReporter
}

// RegisterKeySets registers on reg, as one collector, metrics read at each
// scrape from the JWK Sets sets reports (labelled by URL):
//
//	herald_jwks_keys{url}                            gauge    usable keys held
//	herald_jwks_up{url}                              gauge    1 when the last fetch succeeded
//	herald_jwks_last_refresh_timestamp_seconds{url}  gauge    last successful fetch
//	herald_jwks_refreshes_total{url}                 counter  successful fetches
//	herald_jwks_refresh_failures_total{url}          counter  failed fetches
//	herald_jwks_rate_limited_total{url}              counter  unknown-kid fetches refused by the rate limit
//
// A nil reg or sets is an error wrapping [herald.ErrInvalid].
func RegisterKeySets(reg Registry, sets auth.KeySetReporter) error {
	if reg == nil || sets == nil {
		return fmt.Errorf("metrics: nil registry or key sets: %w", herald.ErrInvalid)
	}
	if err := reg.Register(keySetCollector{sets}); err != nil {
		return fmt.Errorf("metrics: register: %w", err)
	}
	return nil
}

func (keySetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jwksKeysDesc, jwksUpDesc, jwksLastRefreshDesc, jwksRefreshesDesc, jwksFailuresDesc, jwksRateLimitedDesc} {
		ch <- d
	}
}

func (c keySetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.sets.KeySets() {
		up := 0.0
		if st.Healthy() {
			up = 1
		}
		var last float64
		if !st.LastRefresh.IsZero() {
			last = float64(st.LastRefresh.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(jwksKeysDesc, prometheus.GaugeValue, float64(st.Keys), st.URL)
		ch <- prometheus.MustNewConstMetric(jwksUpDesc, prometheus.GaugeValue, up, st.URL)
		ch <- prometheus.MustNewConstMetric(jwksLastRefreshDesc, prometheus.GaugeValue, last, st.URL)
		ch <- prometheus.MustNewConstMetric(jwksRefreshesDesc, prometheus.CounterValue, float64(st.Refreshes), st.URL)
		ch <- prometheus.MustNewConstMetric(jwksFailuresDesc, prometheus.CounterValue, float64(st.Failures), st.URL)
		ch <- prometheus.MustNewConstMetric(jwksRateLimitedDesc, prometheus.CounterValue, float64(st.RateLimited), st.URL)
	}
}
