package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/redis"
	"github.com/herald-sse/herald/store/redis/redistest"
	"github.com/herald-sse/herald/store/storetest"
)

// streams makes stream names unique within the test binary, so that tests
// can share one redis-server.
var streams atomic.Int64

func newStream(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), streams.Add(1))
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	storetest.Run(t, func(t *testing.T, r herald.Retention) herald.Store {
		s, err := redis.Open(t.Context(), srv.URL(newStream(t)), redis.Options{Retention: r})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceNodes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	storetest.RunNodes(t, func(t *testing.T, r herald.Retention, n int) []herald.Store {
		stream := newStream(t)
		nodes := make([]herald.Store, n)
		for i := range nodes {
			s, err := redis.Open(t.Context(), srv.URL(stream), redis.Options{Retention: r})
			if err != nil {
				t.Fatal(err)
			}
			nodes[i] = s
		}
		return nodes
	})
}
