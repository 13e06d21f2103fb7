package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantilesOfKnownSamples(t *testing.T) {
	var h Histogram
	// 1µs, 2µs, ..., 10,000µs: the q-quantile is q*10ms.
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	if got := h.Count(); got != 10000 {
		t.Fatalf("Count = %d, want 10000", got)
	}
	if got, want := h.Max(), 10*time.Millisecond; got != want {
		t.Errorf("Max = %v, want %v (exact)", got, want)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5 * time.Millisecond},
		{0.9, 9 * time.Millisecond},
		{0.99, 9900 * time.Microsecond},
		{0.001, 10 * time.Microsecond},
		{1, 10 * time.Millisecond},
	} {
		got := h.Quantile(c.q)
		// An upper estimate, at most one bucket (1/32) above.
		if got < c.want || float64(got) > float64(c.want)*(1+1.0/32) {
			t.Errorf("Quantile(%v) = %v, want within [%v, %v]", c.q, got, c.want, time.Duration(float64(c.want)*(1+1.0/32)))
		}
	}
}

func TestHistogramMatchesSortedSamples(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	samples := make([]time.Duration, 50000)
	for i := range samples {
		// Log-uniform between 1µs and 1s, as latencies spread.
		samples[i] = time.Duration(float64(time.Microsecond) * math.Pow(1e6, r.Float64()))
		h.Record(samples[i])
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := samples[int(q*float64(len(samples)))-1]
		got := h.Quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/16) {
			t.Errorf("Quantile(%v) = %v, exact %v", q, got, exact)
		}
	}
	if h.Max() != samples[len(samples)-1] {
		t.Errorf("Max = %v, want %v", h.Max(), samples[len(samples)-1])
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every value falls into a bucket whose bounds hold it, and bucket
	// upper bounds are at most 1/32 above the values they hold.
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		hi := bucketHigh(i)
		if hi < v {
			t.Errorf("value %d: bucket %d ends at %d", v, i, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Errorf("value %d: previous bucket %d ends at %d", v, i-1, bucketHigh(i-1))
		}
		if float64(hi-v) > float64(v)/32+1 {
			t.Errorf("value %d: bucket bound %d is more than 1/32 above", v, hi)
		}
	}
}

func TestHistogramMergeAndExport(t *testing.T) {
	var a, b, c Histogram
	for i := range 1000 {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(i) * time.Microsecond)
	}
	c.mergeJSON(a.export())
	c.Merge(&b)
	if c.Count() != 2000 {
		t.Fatalf("Count = %d, want 2000", c.Count())
	}
	if c.Max() != 999*time.Millisecond {
		t.Errorf("Max = %v", c.Max())
	}
	if got := c.Quantile(0.5); got > time.Millisecond {
		t.Errorf("median = %v, want <= 1ms (half the samples are below 1ms)", got)
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Summary().Count != 0 {
		t.Error("an empty histogram should report zeros")
	}
}
