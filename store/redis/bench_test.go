package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/redis"
	"github.com/herald-sse/herald/store/redis/redistest"
)

// Run: go test -run '^$' -bench . -benchtime 2000x ./store/redis/
//
// The benchmarks run against a local redis-server (no persistence), so they
// measure Herald's client side and one Redis round trip, not a network.

func benchOpen(b *testing.B, srv *redistest.Server, stream string) *redis.Store {
	s, err := redis.Open(b.Context(), srv.URL(stream), redis.Options{Retention: herald.Retention{MaxCount: 100_000}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

var benchData = strings.Repeat("x", 100)

// BenchmarkAppend: publishes/s with 1, 16 and 64 concurrent publishers on
// one node.
func BenchmarkAppend(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, p := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("publishers=%d", p), func(b *testing.B) {
			s := benchOpen(b, srv, newStream(b))
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range p {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Append(context.Background(), herald.Update{Topics: []string{"t"}, Data: benchData}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
		})
	}
}

// BenchmarkCrossNode: one update at a time appended on node a; the time
// until node b's watcher has it (publish→deliver latency across nodes).
func BenchmarkCrossNode(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	stream := newStream(b)
	a, nb := benchOpen(b, srv, stream), benchOpen(b, srv, stream)
	got := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = nb.Watch(ctx, func(us []herald.Update) {
			for _, u := range us {
				got <- u.ID
			}
		})
	}()
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N+50; i++ { // the first 50 warm up
		start := time.Now()
		u, err := a.Append(ctx, herald.Update{Topics: []string{"t"}, Data: benchData})
		if err != nil {
			b.Fatal(err)
		}
		for id := <-got; id != u.ID; id = <-got {
		}
		if i == 49 {
			b.ResetTimer()
		} else if i >= 50 {
			lat = append(lat, time.Since(start))
		}
	}
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkDeliveries: 16 publishers spread over 1 or 3 nodes; every node's
// watcher must receive every update. Deliveries are node-level (one per
// update per node); the hub multiplies them by its subscribers.
func BenchmarkDeliveries(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			stream := newStream(b)
			nodes := make([]*redis.Store, n)
			var seen atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := range nodes {
				nodes[i] = benchOpen(b, srv, stream)
				go func() {
					_ = nodes[i].Watch(ctx, func(us []herald.Update) { seen.Add(int64(len(us))) })
				}()
			}
			time.Sleep(50 * time.Millisecond) // watchers registered
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for p := range 16 {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := nodes[p%n].Append(ctx, herald.Update{Topics: []string{"t"}, Data: benchData}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			for deadline := time.Now().Add(30 * time.Second); seen.Load() < int64(n*b.N); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatalf("watchers saw %d of %d deliveries", seen.Load(), n*b.N)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
		})
	}
}

// BenchmarkReplay: one Replay of the 100 updates that follow an id near the
// end of a 10,000-update history, as a subscriber reconnecting with
// Last-Event-ID does (a reconnection storm is many of these).
func BenchmarkReplay(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	s := benchOpen(b, srv, newStream(b))
	var ids []string
	for range 10_000 {
		u, err := s.Append(context.Background(), herald.Update{Topics: []string{"t"}, Data: benchData})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	after := ids[len(ids)-101]
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := s.Replay(context.Background(), after, func(herald.Update) error { n++; return nil }); err != nil || n != 100 {
			b.Fatalf("Replay = %d updates, %v; want 100", n, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "replays/s")
}
