package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/storetest"
)

// quiet discards what the stores log.
var quiet = slog.New(slog.DiscardHandler)

// benchData is the payload of benchmark updates: a typical small JSON event.
var benchData = `{"id":"https://example.com/books/1","title":"` + strings.Repeat("x", 60) + `"}`

// BenchmarkAppend measures durable publishes/s (each acknowledged after its
// group commit's fdatasync of the write-ahead log) with 1, 16 and 64
// concurrent publishers.
func BenchmarkAppend(b *testing.B) {
	for _, p := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("%d-publishers", p), func(b *testing.B) {
			s, err := bolt.Open(b.TempDir(), bolt.Options{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			u := herald.Update{Topics: []string{"https://example.com/books/1"}, Data: benchData}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range p {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Append(context.Background(), u); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
			commits, updates := bolt.Commits(s)
			b.ReportMetric(float64(updates)/float64(commits), "updates/commit")
		})
	}
}

// BenchmarkAppendBatch measures durable updates/s appended in batches of
// 100 (an op is one update; each batch acknowledged after the group commit
// it joined) by 1 and 16 concurrent callers:
//
//	go test -run '^$' -bench AppendBatch ./store/bolt/
func BenchmarkAppendBatch(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("size=100/%d-publishers", p), func(b *testing.B) {
			s, err := bolt.Open(b.TempDir(), bolt.Options{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppendBatch(b, s, 100, p)
			commits, updates := bolt.Commits(s)
			b.ReportMetric(float64(updates)/float64(commits), "updates/commit")
		})
	}
}

// Benchmark histories are built once per test binary run (BulkLoad, straight
// into the file) and removed by TestMain.
var (
	histMu   sync.Mutex
	histDirs = map[int]string{}
	histRoot string
)

// history returns a directory holding a closed history of n updates.
func history(b *testing.B, n int) string {
	histMu.Lock()
	defer histMu.Unlock()
	if dir, ok := histDirs[n]; ok {
		return dir
	}
	if histRoot == "" {
		var err error
		if histRoot, err = os.MkdirTemp("", "herald-bolt-bench-"); err != nil {
			b.Fatal(err)
		}
	}
	dir := fmt.Sprintf("%s/%d", histRoot, n)
	start := time.Now()
	if err := bolt.BulkLoad(dir, n, benchData); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a %d-update history in %v", n, time.Since(start).Round(time.Millisecond))
	histDirs[n] = dir
	return dir
}

func removeBenchHistories() {
	if histRoot != "" {
		os.RemoveAll(histRoot)
	}
}

func openHistory(b *testing.B, n int) *bolt.Store {
	s, err := bolt.Open(history(b, n), bolt.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

var errEnough = errors.New("enough")

// BenchmarkReplay measures replay throughput (events/s) from the middle of
// a 1,000,000-update history; an op is one replayed event.
func BenchmarkReplay(b *testing.B) {
	const n = 1_000_000
	s := openHistory(b, n)
	mid := herald.FormatID(s.Instance(), n/2)
	b.SetBytes(int64(len(benchData)))
	b.ResetTimer()
	for done := 0; done < b.N; {
		err := s.Replay(context.Background(), mid, func(u herald.Update) error {
			if done++; done == b.N {
				return errEnough
			}
			return nil
		})
		if err != nil && err != errEnough {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkTimeToFirstReplayed measures the time from Replay to its first
// event at the start, middle and end of histories of 10k, 100k and 1M
// updates (ns/op): it must not grow with the history.
func BenchmarkTimeToFirstReplayed(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		for _, pos := range []struct {
			name  string
			after uint64
		}{{"earliest", 0}, {"middle", uint64(n / 2)}, {"newest", uint64(n - 1)}} {
			b.Run(fmt.Sprintf("history=%d/at=%s", n, pos.name), func(b *testing.B) {
				s := openHistory(b, n)
				after := herald.EarliestID
				if pos.after > 0 {
					after = herald.FormatID(s.Instance(), pos.after)
				}
				b.ResetTimer()
				for b.Loop() {
					err := s.Replay(context.Background(), after, func(herald.Update) error { return errEnough })
					if err != errEnough {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkOpen measures opening (with its consistency check) and closing a
// 1,000,000-update history: the start-up cost of a restart.
func BenchmarkOpen(b *testing.B) {
	dir := history(b, 1_000_000)
	for b.Loop() {
		s, err := bolt.Open(dir, bolt.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
