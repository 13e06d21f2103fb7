package redis_test

import (
	"log/slog"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/redis"
	"github.com/herald-sse/herald/store/redis/redistest"
	"github.com/herald-sse/herald/store/storetest"
)

// BenchmarkStore runs the cluster-store benchmarks of storetest.Benchmark
// against a local redis-server (no persistence): they measure Herald's
// client side and one Redis round trip, not a network.
//
//	go test -run '^$' -bench . -benchtime 2000x ./store/redis/
func BenchmarkStore(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	storetest.Benchmark(b, func() string { return newStream(b) }, func(b *testing.B, stream string) herald.Store {
		s, err := redis.Open(b.Context(), srv.URL(stream), redis.Options{Retention: herald.Retention{MaxCount: 100_000}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	})
}
