package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram buckets: log-linear, as HDR histograms are. Values below
// 2*histSub nanoseconds have a bucket each; above, every power of two is cut
// into histSub equal buckets, so a bucket is at most 1/histSub (3.1%) wide
// relative to its values.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits-1)*histSub + 2*histSub
)

// Histogram counts durations in log-linear buckets (relative error at most
// 1/32) and keeps the exact maximum. Record is safe for concurrent use; the
// zero value is ready to use.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
}

func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1
	return e*histSub + int(v>>uint(e))
}

// bucketHigh is the largest value that falls into bucket i.
func bucketHigh(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	m := uint64(i%histSub + histSub)
	return (m+1)<<uint(e) - 1
}

// Record adds one sample. Negative durations (clocks of different machines)
// count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(uint64(v))].Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Max returns the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the smallest bucket bound below which a fraction q
// (0 < q <= 1) of the samples lie: an upper estimate of the q-quantile,
// never above Max, within 1/32 of the true value. It is 0 without samples.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketHigh(i)), h.Max())
		}
	}
	return h.Max()
}

// Reset forgets every sample. It must not run concurrently with Record.
func (h *Histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.max.Store(0)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.raiseMax(o.max.Load())
}

func (h *Histogram) raiseMax(v int64) {
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// histogramJSON is a Histogram on the wire between worker processes: the
// non-empty buckets as [index, count] pairs.
type histogramJSON struct {
	Buckets [][2]uint64 `json:"buckets,omitempty"`
	Max     int64       `json:"max"`
}

func (h *Histogram) export() histogramJSON {
	var out histogramJSON
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			out.Buckets = append(out.Buckets, [2]uint64{uint64(i), c})
		}
	}
	out.Max = h.max.Load()
	return out
}

func (h *Histogram) mergeJSON(j histogramJSON) {
	for _, b := range j.Buckets {
		if b[0] < histBuckets {
			h.counts[b[0]].Add(b[1])
		}
	}
	h.raiseMax(j.Max)
}

// Summary is a histogram's digest, in the units of a report.
type Summary struct {
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Summary returns the count, p50, p90, p99, p99.9 and max.
func (h *Histogram) Summary() Summary {
	return Summary{
		Count: h.Count(),
		P50:   h.Quantile(0.50),
		P90:   h.Quantile(0.90),
		P99:   h.Quantile(0.99),
		P999:  h.Quantile(0.999),
		Max:   h.Max(),
	}
}
