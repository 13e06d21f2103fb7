package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald"
)

// Append implements herald.Store with one script call: the update is in
// Redis (as durable as Redis's persistence settings make it) when Append
// returns nil. A context already done stores nothing. The script refuses an
// id held by any node's update with an error wrapping herald.ErrConflict.
func (s *Store) Append(ctx context.Context, u herald.Update) (herald.Update, error) {
	if err := u.Validate(); err != nil {
		return herald.Update{}, fmt.Errorf("redis: append: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	if !s.gate.Enter() {
		return herald.Update{}, fmt.Errorf("redis: append: %w", herald.ErrClosed)
	}
	defer s.gate.Leave()

	private := "0"
	if u.Private {
		private = "1"
	}
	args := []any{
		u.ID, Size(&u),
		s.ret.MaxCount, s.ret.MaxBytes, s.ret.MaxAge.Microseconds(),
		strings.Join(u.Topics, "\n"), u.Type, u.Data, int64(u.Retry), private,
		trimPerAppend,
	}
	res, err := appendScript.Run(ctx, s.rdb, s.keys, args...).Slice()
	if err != nil && strings.HasPrefix(err.Error(), "HERALD_NOINSTANCE") {
		// Redis lost its data: start a new instance, then append to it.
		inst, ierr := s.ensureInstance(ctx)
		if ierr != nil {
			return herald.Update{}, ierr
		}
		s.log.Warn("Redis lost the history (no instance id): started a new instance; clients holding older ids will be told they have a gap", "instance", inst)
		res, err = appendScript.Run(ctx, s.rdb, s.keys, args...).Slice()
	}
	if err != nil && strings.HasPrefix(err.Error(), "HERALD_CONFLICT") {
		return herald.Update{}, fmt.Errorf("redis: append: id %q is held in history: %w", u.ID, herald.ErrConflict)
	}
	if err != nil {
		return herald.Update{}, s.fail("append", err)
	}
	seq, us, id, inst, err := appendResult(res)
	if err != nil {
		return herald.Update{}, fmt.Errorf("redis: append: %v", err)
	}
	u.Topics = slices.Clone(u.Topics)
	u.Seq, u.Time, u.ID = seq, time.UnixMicro(us), id
	s.progress.appendedAt(position{inst, seq})
	return u, nil
}

// appendResult reads the script's {seq, time, id, instance} reply.
func appendResult(res []any) (seq uint64, us int64, id, inst string, err error) {
	bad := fmt.Errorf("unexpected script reply %v", res)
	if len(res) != 4 {
		return 0, 0, "", "", bad
	}
	n, ok1 := res[0].(int64)
	ts, ok2 := res[1].(string)
	id, ok3 := res[2].(string)
	inst, ok4 := res[3].(string)
	if !ok1 || !ok2 || !ok3 || !ok4 || n <= 0 {
		return 0, 0, "", "", bad
	}
	if us, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return 0, 0, "", "", bad
	}
	return uint64(n), us, id, inst, nil
}
