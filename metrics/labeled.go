package metrics

import "github.com/prometheus/client_golang/prometheus"

// unknownLabel replaces an empty label value, which Prometheus would
// otherwise show as a missing label.
const unknownLabel = "unknown"

// labeled is a counter vector with one label whose expected values are
// resolved once, so that counting them is a map lookup and an atomic add:
// no hashing of label values and no lock (about 3× faster than
// WithLabelValues on every call).
type labeled struct {
	vec   *prometheus.CounterVec
	known map[string]prometheus.Counter // read-only after newLabeled
}

// newLabeled creates the vector herald_<name>{<label>} and its children for
// the known values, which are therefore exported at zero from the start.
func newLabeled(name, help, label string, known []string) labeled {
	l := labeled{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      name,
			Help:      help,
		}, []string{label}),
		known: make(map[string]prometheus.Counter, len(known)),
	}
	for _, v := range known {
		l.known[v] = l.vec.WithLabelValues(v)
	}
	return l
}

// inc counts one event for value. Values outside the known set get their
// own child on first use (the vector's lookup is safe for concurrent use).
func (l labeled) inc(value string) {
	if c, ok := l.known[value]; ok {
		c.Inc()
		return
	}
	if value == "" {
		value = unknownLabel
	}
	l.vec.WithLabelValues(value).Inc()
}
