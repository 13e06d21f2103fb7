package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

// OpenNode opens a store on the shared log named log, as one node of a
// cluster does, and closes it when b ends.
type OpenNode func(b *testing.B, log string) herald.Store

var benchData = strings.Repeat("x", 100)

// Benchmark measures a store that several nodes share, with 100-byte
// updates: Append (publishes/s with 1, 16 and 64 concurrent publishers on one
// node), AppendBatch (updates/s in batches of 100 from 16 concurrent
// callers), CrossNode (the time from an Append on one node until another
// node's watcher has it, p50 and p99), Deliveries (16 publishers spread over
// 1 or 3 nodes; node-level deliveries/s: every node's watcher receives every
// update, and the hub multiplies that by its subscribers) and Replay (the 100
// updates that follow an id near the end of a 10,000-update history, as a
// subscriber reconnecting with Last-Event-ID asks for). newLog returns the
// name of a log no node uses yet.
func Benchmark(b *testing.B, newLog func() string, open OpenNode) {
	for _, p := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("Append/publishers=%d", p), func(b *testing.B) {
			s := open(b, newLog())
			b.ResetTimer()
			publish(b, []herald.Store{s}, p)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
		})
	}
	b.Run("AppendBatch/size=100/publishers=16", func(b *testing.B) {
		BenchAppendBatch(b, open(b, newLog()), 100, 16)
	})
	b.Run("CrossNode", func(b *testing.B) { benchCrossNode(b, newLog(), open) })
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("Deliveries/nodes=%d", n), func(b *testing.B) { benchDeliveries(b, newLog(), open, n) })
	}
	b.Run("Replay", func(b *testing.B) { benchReplay(b, open(b, newLog())) })
}

// BenchAppend measures Append on st: b.N updates of 100 bytes (an op is one
// update) from publishers concurrent goroutines. It reports publishes/s.
func BenchAppend(b *testing.B, st herald.Store, publishers int) {
	b.ResetTimer()
	publish(b, []herald.Store{st}, publishers)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
}

// BenchAppendBatch measures AppendBatch on st: b.N updates of 100 bytes (an
// op is one update) in batches of size (the last may be shorter), from
// publishers concurrent goroutines. It reports updates/s and batches/s.
func BenchAppendBatch(b *testing.B, st herald.Store, size, publishers int) {
	batch := make([]herald.Update, size)
	for i := range batch {
		batch[i] = herald.Update{Topics: []string{"t"}, Data: benchData}
	}
	var next atomic.Int64 // updates handed out
	var batches atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range publishers {
		wg.Go(func() {
			for {
				end := next.Add(int64(size))
				n := min(int64(size), int64(b.N)-(end-int64(size)))
				if n <= 0 {
					return
				}
				if _, err := st.AppendBatch(context.Background(), batch[:n]); err != nil {
					b.Error(err)
					return
				}
				batches.Add(1)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(float64(batches.Load())/b.Elapsed().Seconds(), "batches/s")
}

// publish appends b.N updates from publishers goroutines, each appending
// to nodes in turn.
func publish(b *testing.B, nodes []herald.Store, publishers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := nodes[p%len(nodes)].Append(context.Background(), herald.Update{Topics: []string{"t"}, Data: benchData}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// watchFrom starts a Watch on s for the rest of ctx and returns once it is
// registered.
func watchFrom(b *testing.B, ctx context.Context, s herald.Store, fn func([]herald.Update)) {
	registered := make(chan struct{})
	var once sync.Once
	go func() {
		_ = s.Watch(ctx, func(us []herald.Update) {
			once.Do(func() { close(registered) })
			fn(us)
		})
	}()
	select {
	case <-registered:
	case <-time.After(Timeout):
		b.Fatalf("Watch did not register within %v", Timeout)
	}
}

func benchCrossNode(b *testing.B, log string, open OpenNode) {
	a, other := open(b, log), open(b, log)
	got := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchFrom(b, ctx, other, func(us []herald.Update) {
		for _, u := range us {
			got <- u.ID
		}
	})
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
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func benchDeliveries(b *testing.B, log string, open OpenNode, n int) {
	nodes := make([]herald.Store, n)
	var seen atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range nodes {
		nodes[i] = open(b, log)
		watchFrom(b, ctx, nodes[i], func(us []herald.Update) { seen.Add(int64(len(us))) })
	}
	b.ResetTimer()
	publish(b, nodes, 16)
	for deadline := time.Now().Add(30 * time.Second); seen.Load() < int64(n*b.N); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("watchers saw %d of %d deliveries", seen.Load(), n*b.N)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
}

func benchReplay(b *testing.B, s herald.Store) {
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
