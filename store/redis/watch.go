package redis

import (
	"context"
	"errors"
	"time"

	"github.com/herald-sse/herald"
	goredis "github.com/redis/go-redis/v9"
)

// Watch implements herald.Store: fn is called from the calling goroutine
// with the batches the Store's reader gets from Redis (updates appended by
// any node), and a slow fn delays only this watcher. Watch returns nil when
// ctx is done or the Store is closed; it keeps waiting while Redis is down
// (the reader resumes where it stopped).
func (s *Store) Watch(ctx context.Context, fn func([]herald.Update)) error {
	return s.feed.Watch(ctx, fn)
}

// read is the Store's reader: it follows the stream from pos (the id of the
// last entry delivered), in instance inst, until ctx is done.
func (s *Store) read(ctx context.Context, inst, pos string) {
	defer s.done.Done()
	const firstBackoff = 50 * time.Millisecond
	backoff, down := firstBackoff, false
	// failed logs the first error of an outage and waits before the next
	// attempt. It reports false when ctx is done.
	failed := func(err error) bool {
		if ctx.Err() != nil {
			return false
		}
		if !down {
			s.log.Warn("lost the connection to Redis; watchers get new updates once it is back", "err", err)
			down = true
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return false
		}
		backoff = min(2*backoff, maxBackoff)
		return true
	}
	check := false // whether to check for a reset before reading again
	for ctx.Err() == nil {
		if check {
			var err error
			if inst, pos, err = s.checkReset(ctx, inst, pos); err != nil {
				if !failed(err) {
					return
				}
				continue
			}
			check = false
		}
		res, err := s.rdb.XRead(ctx, &goredis.XReadArgs{
			Streams: []string{s.keys[0], pos},
			Count:   readCount,
			Block:   readBlock,
		}).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			check = true // Redis may have restarted without its data
			if !failed(err) {
				return
			}
			continue
		}
		if down {
			s.log.Info("reconnected to Redis; watching again", "after", pos)
			down, backoff = false, firstBackoff
		}
		if errors.Is(err, goredis.Nil) || len(res) == 0 {
			check = true // nothing new for a while: was Redis reset meanwhile?
			continue
		}
		batch, batchInst := make([]herald.Update, 0, len(res[0].Messages)), inst
		for _, m := range res[0].Messages {
			u, in, err := decode(m)
			if err != nil {
				s.log.Error("skipping a stream entry Herald cannot read", "entry", m.ID, "err", err)
				pos = m.ID
				continue
			}
			if in != inst {
				// Probably a new instance: resume from its first entry.
				cur, next, err := s.checkReset(ctx, inst, pos)
				if err != nil {
					check = true
					break
				}
				if cur != inst {
					inst, pos = cur, next
					break
				}
				s.log.Error("skipping a stream entry of another instance", "entry", m.ID, "instance", in)
				pos = m.ID
				continue
			}
			batch = append(batch, u)
			pos = m.ID
		}
		if len(batch) > 0 {
			s.feed.Publish(batch)
			s.progress.deliveredAt(position{batchInst, batch[len(batch)-1].Seq})
		}
	}
}

// checkReset compares the instance in Redis with inst. When it differs (or
// is gone: it is then created), Redis lost or replaced the history; the new
// position is just before the new instance's first entry, so that every
// update appended after the reset is delivered, once.
func (s *Store) checkReset(ctx context.Context, inst, pos string) (string, string, error) {
	cur, err := s.rdb.HGet(ctx, s.keys[1], "instance").Result()
	if errors.Is(err, goredis.Nil) {
		cur, err = s.ensureInstance(ctx)
	}
	if err != nil {
		return inst, pos, err
	}
	if cur == inst {
		return inst, pos, nil
	}
	base, err := s.rdb.HGet(ctx, s.keys[1], "base").Uint64()
	if err != nil {
		return inst, pos, err
	}
	next := "0-0"
	if base > 1 {
		next = streamID(base - 1)
	}
	s.log.Warn("the Redis history was reset (data lost or replaced): watching the new instance from its first update",
		"old_instance", inst, "new_instance", cur, "after", next)
	return cur, next, nil
}
