package redis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/herald-sse/herald"
)

// maxExactSeq is the largest Seq a Lua number (a float64) holds exactly.
const maxExactSeq = 1 << 53

// Replay implements herald.Store. One script resolves after (an O(log n)
// lookup of its stream entry, or an O(1) index lookup for a publisher's id)
// and the newest Seq; the updates are then read with XRANGE in chunks of
// 256, so fn runs without holding anything in Redis. If retention removes
// the next update while a slow fn runs, Replay returns an error wrapping
// herald.ErrNotHeld instead of skipping it.
func (s *Store) Replay(ctx context.Context, after string, fn func(herald.Update) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return fmt.Errorf("redis: replay: %w", herald.ErrClosed)
	}
	notHeld := fmt.Errorf("redis: replay after %q: %w", after, herald.ErrNotHeld)
	mode, inst, key := "p", "", after
	if after == herald.EarliestID {
		mode = "e"
	} else if in, seq, ok := herald.ParseID(after); ok {
		if seq == 0 || seq > maxExactSeq {
			return notHeld
		}
		mode, inst, key = "g", in, strconv.FormatUint(seq, 10)
	}
	res, err := locateScript.Run(ctx, s.rdb, s.keys, mode, inst, key).Int64Slice()
	if err != nil {
		return s.fail("replay", err)
	}
	if len(res) != 3 {
		return fmt.Errorf("redis: replay: unexpected script reply %v", res)
	}
	held, from, upper := res[0], res[1], res[2]
	switch {
	case held == 0:
		return notHeld
	case upper <= 0 || (from >= 0 && from >= upper):
		return nil
	}
	// start is read inclusively when check is set, to make sure the entry
	// replayed last (or the one asked for) is still held: retention only
	// removes the oldest entries, so everything after it is held too.
	start, check := "-", false
	if from >= 0 {
		start, check = streamID(uint64(from)), true
	}
	end := streamID(uint64(upper))
	for {
		if s.isClosed() {
			return fmt.Errorf("redis: replay: %w", herald.ErrClosed)
		}
		ms, err := s.rdb.XRangeN(ctx, s.keys[0], start, end, replayChunk+1).Result()
		if err != nil {
			return s.fail("replay", err)
		}
		if check {
			if len(ms) == 0 || ms[0].ID != start {
				return fmt.Errorf("redis: replay after %q: entry %s was removed by retention during the replay: %w", after, start, herald.ErrNotHeld)
			}
			ms = ms[1:]
		}
		if len(ms) == 0 {
			return nil
		}
		for _, m := range ms {
			u, _, err := decode(m)
			if err != nil {
				return fmt.Errorf("redis: replay: %v", err)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(u); err != nil {
				return err
			}
			if u.Seq >= uint64(upper) {
				return nil
			}
		}
		start, check = ms[len(ms)-1].ID, true
	}
}

// Lookup implements herald.Store with one script: an O(1) index lookup for
// a publisher's id, then the entry at its Seq (O(log n)).
func (s *Store) Lookup(ctx context.Context, id string) (herald.Update, error) {
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	if s.isClosed() {
		return herald.Update{}, fmt.Errorf("redis: lookup: %w", herald.ErrClosed)
	}
	notHeld := fmt.Errorf("redis: lookup %q: %w", id, herald.ErrNotHeld)
	mode, inst, key := "p", "", id
	if in, seq, ok := herald.ParseID(id); ok {
		if seq == 0 || seq > maxExactSeq {
			return herald.Update{}, notHeld
		}
		mode, inst, key = "g", in, strconv.FormatUint(seq, 10)
	} else if id == "" || id == herald.EarliestID {
		return herald.Update{}, notHeld
	}
	res, err := lookupScript.Run(ctx, s.rdb, s.keys, mode, inst, key).Slice()
	if err != nil {
		return herald.Update{}, s.fail("lookup", err)
	}
	if len(res) == 0 {
		return herald.Update{}, notHeld
	}
	m, err := xmessage(res[0])
	if err != nil {
		return herald.Update{}, fmt.Errorf("redis: lookup: %v", err)
	}
	u, in, err := decode(m)
	if err != nil {
		return herald.Update{}, fmt.Errorf("redis: lookup: %v", err)
	}
	if mode == "g" && in != inst {
		return herald.Update{}, notHeld
	}
	return u, nil
}

// Last implements herald.Store with one XREVRANGE: the newest update's
// position.
func (s *Store) Last(ctx context.Context) (string, uint64, error) {
	if s.isClosed() {
		return "", 0, fmt.Errorf("redis: last: %w", herald.ErrClosed)
	}
	ms, err := s.rdb.XRevRangeN(ctx, s.keys[0], "+", "-", 1).Result()
	if err != nil {
		return "", 0, s.fail("last", err)
	}
	if len(ms) == 0 {
		return "", 0, nil
	}
	u, inst, err := decode(ms[0])
	if err != nil {
		return "", 0, fmt.Errorf("redis: last: %v", err)
	}
	return herald.FormatID(inst, u.Seq), u.Seq, nil
}
