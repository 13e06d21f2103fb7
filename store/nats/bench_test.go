package nats_test

import (
	"log/slog"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/nats"
	"github.com/herald-sse/herald/store/nats/natstest"
	"github.com/herald-sse/herald/store/storetest"
)

// BenchmarkStore runs the cluster-store benchmarks of storetest.Benchmark
// against an embedded nats-server (file storage): they measure Herald's
// client side and one JetStream round trip, not a network.
//
//	go test -run '^$' -bench . -benchtime 2000x ./store/nats/
func BenchmarkStore(b *testing.B) {
	srv := natstest.Start(b)
	storetest.Benchmark(b, newStream, func(b *testing.B, stream string) herald.Store {
		s, err := nats.Open(b.Context(), srv.URL(stream), nats.Options{Retention: herald.Retention{MaxCount: 100_000}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	})
}
