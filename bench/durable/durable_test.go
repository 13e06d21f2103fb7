package durable

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dunglas/mercure"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
)

// data is a typical small JSON event.
var data = `{"id":"https://example.com/books/1","title":"` + strings.Repeat("x", 60) + `"}`

const topic = "https://example.com/books/1"

// publishers runs b.N publishes spread over p goroutines and reports
// publishes/s.
func publishers(b *testing.B, p int, publish func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for range p {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := publish(); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "publishes/s")
}

// BenchmarkDurablePublish: each publish returns once its update is on disk
// (Herald: its group commit's fdatasync of the write-ahead log; Mercure: its
// bbolt transaction, two fdatasyncs, one transaction per publish).
func BenchmarkDurablePublish(b *testing.B) {
	for _, p := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("herald-bolt/%d-publishers", p), func(b *testing.B) {
			s, err := bolt.Open(b.TempDir(), bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			u := herald.Update{Topics: []string{topic}, Data: data}
			publishers(b, p, func() error {
				_, err := s.Append(context.Background(), u)
				return err
			})
		})
		b.Run(fmt.Sprintf("mercure-bolt/%d-publishers", p), func(b *testing.B) {
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			t, err := mercure.NewBoltTransport(mercure.NewSubscriberList(mercure.DefaultSubscriberListCacheSize),
				logger, filepath.Join(b.TempDir(), "mercure.db"), "", 1_000_000, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer t.Close(context.Background())
			publishers(b, p, func() error {
				u := &mercure.Update{Topics: []string{topic}, Event: mercure.Event{Data: data}}
				return t.Dispatch(context.Background(), u)
			})
		})
	}
}
