package memory_test

import (
	"fmt"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/store/storetest"
)

// benchRetention keeps the history of a long benchmark in memory's reach.
var benchRetention = herald.Retention{MaxCount: 100_000}

// BenchmarkAppend measures publishes/s with 1 and 16 concurrent publishers.
func BenchmarkAppend(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("%d-publishers", p), func(b *testing.B) {
			s := memory.New(memory.Options{Retention: benchRetention})
			defer s.Close()
			storetest.BenchAppend(b, s, p)
		})
	}
}

// BenchmarkAppendBatch measures updates/s appended in batches of 100 (an op
// is one update) by 1 and 16 concurrent callers:
//
//	go test -run '^$' -bench AppendBatch ./store/memory/
func BenchmarkAppendBatch(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("size=100/%d-publishers", p), func(b *testing.B) {
			s := memory.New(memory.Options{Retention: benchRetention})
			defer s.Close()
			storetest.BenchAppendBatch(b, s, 100, p)
		})
	}
}
