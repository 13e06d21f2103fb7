package nats_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/nats"
	"github.com/herald-sse/herald/store/nats/natstest"
	"github.com/herald-sse/herald/store/storetest"
)

// streams makes stream names unique within the test binary, so that tests
// can share one server.
var streams atomic.Int64

func newStream() string {
	return fmt.Sprintf("s%d", streams.Add(1))
}

func TestConformance(t *testing.T) {
	srv := natstest.Start(t)
	storetest.Run(t, func(t *testing.T, r herald.Retention) herald.Store {
		s, err := nats.Open(t.Context(), srv.URL(newStream()), nats.Options{Retention: r})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceNodes(t *testing.T) {
	srv := natstest.Start(t)
	storetest.RunNodes(t, func(t *testing.T, r herald.Retention, n int) []herald.Store {
		stream := newStream()
		nodes := make([]herald.Store, n)
		for i := range nodes {
			s, err := nats.Open(t.Context(), srv.URL(stream), nats.Options{Retention: r})
			if err != nil {
				t.Fatal(err)
			}
			nodes[i] = s
		}
		return nodes
	})
}
