package redis

import (
	"context"
	"errors"
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
	out, err := s.append(ctx, []herald.Update{u}, false)
	if err != nil {
		return herald.Update{}, err
	}
	return out[0], nil
}

// AppendBatch implements herald.Store with one script call (one round trip),
// which stores the whole batch or, refusing it, nothing: Redis runs a script
// alone, so no other update comes between the batch's.
func (s *Store) AppendBatch(ctx context.Context, us []herald.Update) ([]herald.Update, error) {
	if err := herald.ValidateBatch(us); err != nil {
		return nil, fmt.Errorf("redis: append batch: %w", err)
	}
	if len(us) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return s.append(ctx, us, true)
}

// append runs the append script for us (valid, ids distinct).
func (s *Store) append(ctx context.Context, us []herald.Update, batch bool) ([]herald.Update, error) {
	op := "redis: append"
	if batch {
		op = "redis: append batch"
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.gate.Enter() {
		return nil, fmt.Errorf("%s: %w", op, herald.ErrClosed)
	}
	defer s.gate.Leave()

	args := make([]any, 0, 5+7*len(us))
	args = append(args, s.ret.MaxCount, s.ret.MaxBytes, s.ret.MaxAge.Microseconds(), trimPerAppend+len(us), len(us))
	for i := range us {
		u := &us[i]
		private := "0"
		if u.Private {
			private = "1"
		}
		args = append(args, u.ID, Size(u), strings.Join(u.Topics, "\n"), u.Type, u.Data, int64(u.Retry), private)
	}
	res, err := appendScript.Run(ctx, s.rdb, s.keys, args...).Slice()
	if err != nil && strings.HasPrefix(err.Error(), "HERALD_NOINSTANCE") {
		// Redis lost its data: start a new instance, then append to it.
		inst, ierr := s.ensureInstance(ctx)
		if ierr != nil {
			return nil, ierr
		}
		s.log.Warn("Redis lost the history (no instance id): started a new instance; clients holding older ids will be told they have a gap", "instance", inst)
		res, err = appendScript.Run(ctx, s.rdb, s.keys, args...).Slice()
	}
	if rest, ok := strings.CutPrefix(errString(err), "HERALD_CONFLICT "); ok {
		k, _ := strconv.Atoi(rest)
		if k < 0 || k >= len(us) {
			k = 0
		}
		err := fmt.Errorf("id %q is held in history: %w", us[k].ID, herald.ErrConflict)
		if batch {
			err = &herald.BatchError{Index: k, Err: err}
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err != nil {
		return nil, s.fail(strings.TrimPrefix(op, "redis: "), err)
	}
	first, ts, inst, err := appendResult(res)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", op, err)
	}
	out := make([]herald.Update, len(us))
	for i, u := range us {
		u.Topics = slices.Clone(u.Topics)
		u.Seq, u.Time = first+uint64(i), time.UnixMicro(ts)
		if u.ID == "" {
			u.ID = herald.FormatID(inst, u.Seq)
		}
		out[i] = u
	}
	s.progress.appendedAt(position{inst, out[len(out)-1].Seq})
	return out, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// appendResult reads the script's {first seq, time, instance} reply.
func appendResult(res []any) (first uint64, us int64, inst string, err error) {
	bad := errors.New("unexpected script reply")
	if len(res) != 3 {
		return 0, 0, "", fmt.Errorf("%w %v", bad, res)
	}
	n, ok1 := res[0].(int64)
	ts, ok2 := res[1].(string)
	inst, ok3 := res[2].(string)
	if !ok1 || !ok2 || !ok3 || n <= 0 {
		return 0, 0, "", fmt.Errorf("%w %v", bad, res)
	}
	if us, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return 0, 0, "", fmt.Errorf("%w %v", bad, res)
	}
	return uint64(n), us, inst, nil
}
