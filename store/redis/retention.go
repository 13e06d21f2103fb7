package redis

import (
	"context"
	"time"
)

// sweepPeriod is how often the sweeper runs: a quarter of MaxAge, between
// 10 ms and 1 s.
func (s *Store) sweepPeriod() time.Duration {
	p := time.Second
	if a := s.ret.MaxAge / 4; a > 0 && a < p {
		p = max(a, 10*time.Millisecond)
	}
	return p
}

// sweep enforces the retention bounds in the background until ctx is done:
// age, and whatever the per-Append trimming left (bursts, idle streams).
func (s *Store) sweep(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTicker(s.sweepPeriod())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for range 100 { // at most 100k entries per tick; the rest next tick
			n, err := sweepScript.Run(ctx, s.rdb, s.keys,
				s.ret.MaxCount, s.ret.MaxBytes, s.ret.MaxAge.Microseconds(), trimPerSweep).Int64()
			if err != nil {
				if ctx.Err() == nil {
					s.log.Debug("retention sweep failed", "err", err)
				}
				break
			}
			if n < trimPerSweep {
				break
			}
		}
	}
}
