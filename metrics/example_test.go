package metrics_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/metrics"
)

// ExampleNew registers Herald's metrics on a registry of its own, records a
// few events as the hub and the HTTP layer would, and scrapes /metrics.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		panic(err)
	}
	// In a program: hub.New(store, hub.Options{Metrics: m}).
	m.StoreUp(true)
	m.SubscriberAdded()
	m.SubscriberAdded()
	m.SubscriberRemoved(hub.ReasonSlow)
	m.Published(1)
	m.Delivered(2)
	m.AuthFailure("expired")

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	ts := httptest.NewServer(mux)
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "herald_") && !strings.HasSuffix(line, " 0") &&
			!strings.HasPrefix(line, "herald_publish_duration_seconds") {
			fmt.Println(line)
		}
	}
	// Output:
	// herald_auth_failures_total{kind="expired"} 1
	// herald_delivered_total 2
	// herald_published_total 1
	// herald_store_up 1
	// herald_subscribers 1
	// herald_subscribers_closed_total{reason="slow"} 1
	// herald_subscribers_opened_total 2
}
