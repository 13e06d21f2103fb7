package loadgen

import (
	"fmt"
	"strings"
	"time"
)

// tableWriter lays out "name  value" rows with aligned values.
type tableWriter struct {
	names, values []string
}

func (t *tableWriter) row(name, format string, args ...any) {
	t.names = append(t.names, name)
	t.values = append(t.values, fmt.Sprintf(format, args...))
}

func (t *tableWriter) String() string {
	width := 0
	for _, n := range t.names {
		width = max(width, len(n))
	}
	var b strings.Builder
	for i, n := range t.names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, t.values[i])
	}
	return b.String()
}

// si formats v with a k or M suffix.
func si(v float64) string {
	switch {
	case v >= 10e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 10e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func rateString(r float64) string {
	if r <= 0 {
		return "max"
	}
	return si(r) + "/s"
}

func bytesString(v float64) string {
	switch {
	case v >= 1<<30 || v <= -(1<<30):
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20 || v <= -(1<<20):
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10 || v <= -(1<<10):
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

// DurationString formats d with three significant digits.
func DurationString(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	}
	return fmt.Sprintf("%dns", d)
}

func latencyString(s Summary) string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%d samples)",
		DurationString(s.P50), DurationString(s.P90), DurationString(s.P99), DurationString(s.P999), DurationString(s.Max), s.Count)
}

// ProgressLine formats p on one line, for a terminal.
func ProgressLine(p Progress) string {
	return fmt.Sprintf("%6.1fs %-8s subs %d/%d  deliveries %s/s (%d)  publishes %s/s (%d)  errors %d",
		p.Elapsed.Seconds(), p.Phase, p.Connected, p.Subscribers, si(p.DeliveryRate), p.Deliveries,
		si(p.PublishRate), p.Published, p.Errors)
}
