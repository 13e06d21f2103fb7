package bolt

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/herald-sse/herald"
)

// request is one Append waiting for the committer.
type request struct {
	u    herald.Update // in: the update; out: as stored
	done chan error    // buffered; receives exactly one value
}

// Append implements herald.Store. It returns once the update's transaction
// is fsync'd; concurrent Appends share that transaction. Errors: ErrInvalid,
// ErrTooLarge (Data over 256 MiB), ErrClosed, ErrUnavailable (the
// transaction failed; nothing was stored), or ctx's error.
func (s *Store) Append(ctx context.Context, u herald.Update) (herald.Update, error) {
	if err := u.Validate(); err != nil {
		return herald.Update{}, fmt.Errorf("bolt: append: %w", err)
	}
	if len(u.Data) > maxDataSize {
		return herald.Update{}, fmt.Errorf("bolt: append: data is %d bytes, the limit is %d: %w", len(u.Data), maxDataSize, herald.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return herald.Update{}, fmt.Errorf("bolt: append: %w", herald.ErrClosed)
	}
	s.inflight.Add(1)
	s.mu.RUnlock()
	defer s.inflight.Done()

	u.Topics = slices.Clone(u.Topics) // the caller may reuse its slice
	r := &request{u: u, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return herald.Update{}, ctx.Err()
	}
	select {
	case err := <-r.done:
		if err != nil {
			return herald.Update{}, err
		}
		return r.u, nil
	case <-ctx.Done():
		return herald.Update{}, ctx.Err() // it may still be committed
	}
}

// run is the committer: the only writer of the file.
func (s *Store) run() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	now := make(chan struct{})
	close(now)
	batch := make([]*request, 0, s.maxBatch)
	for {
		var trimNow <-chan struct{}
		if s.trimPending {
			trimNow = now
		}
		select {
		case r := <-s.reqs:
			batch = s.gather(append(batch[:0], r))
			s.commit(batch)
		case <-trimNow:
			s.commit(nil)
		case <-timer.C:
			s.commit(nil)
		case <-s.quit:
			// Close waited for every Append, but some gave up on their
			// context after queueing: commit those too.
			for {
				batch = s.drain(batch[:0])
				if len(batch) == 0 {
					timer.Stop()
					return
				}
				s.commit(batch)
			}
		}
		clear(batch) // drop references to served requests
		if s.ret.MaxAge > 0 && !s.oldest.IsZero() {
			// Wake when the oldest update expires (not before a retry is due).
			next := s.oldest.Add(s.ret.MaxAge + time.Millisecond)
			if next.Before(s.retryAt) {
				next = s.retryAt
			}
			timer.Reset(time.Until(next))
		}
	}
}

// yieldRounds bounds how often gather yields the processor. (Measured on
// 2 cores, 16 publishers: 15 updates per commit with it, 8 without, twice
// the publishes/s. A timed wait for more did worse under load.)
const yieldRounds = 8

// gather collects everything queued while the previous commit was syncing.
// Publishers woken by that commit's acknowledgements are runnable but may
// not have run yet: gather yields to them while they keep coming, so that
// they join this commit instead of the next. It never sleeps.
func (s *Store) gather(batch []*request) []*request {
	batch = s.drain(batch)
	for range yieldRounds {
		n := len(batch)
		if n >= s.maxBatch {
			break
		}
		runtime.Gosched()
		if batch = s.drain(batch); len(batch) == n {
			break
		}
	}
	return batch
}

// drain adds every request already queued to batch, up to maxBatch.
func (s *Store) drain(batch []*request) []*request {
	for len(batch) < s.maxBatch {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit writes batch (possibly empty) and a bounded amount of retention work
// in one transaction, then publishes the batch to the watchers and
// acknowledges it: a watcher never lags an acknowledged Append.
func (s *Store) commit(batch []*request) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil { // a file damaged after Open's check
			s.fail(batch, damaged(r))
		}
	}()
	now := time.Now().Round(0)
	if now.Before(s.lastTime) {
		now = s.lastTime
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		s.fail(batch, err)
		return
	}
	defer tx.Rollback() // no-op after Commit
	updates, ids := tx.Bucket(bucketUpdates), tx.Bucket(bucketIDs)
	updates.FillPercent = 1 // keys only ever grow: pack pages full

	seq, count, size := s.last, s.count, s.bytes
	out := make([]herald.Update, len(batch))
	arena := s.arena[:0]
	for i, r := range batch {
		seq++
		u := r.u
		u.Seq, u.Time = seq, now
		custom := u.ID != ""
		if !custom {
			u.ID = herald.FormatID(s.instance, seq)
		}
		// bbolt keeps key and value slices until Commit: carve them from an
		// arena that is not reused before then (growing it leaves the
		// earlier slices on the old array, untouched).
		start := len(arena)
		arena = appendRecord(binary8(arena, seq), &u, custom)
		key, rec := arena[start:start+8:start+8], arena[start+8:len(arena):len(arena)]
		if err := updates.Put(key, rec); err != nil {
			s.fail(batch, err)
			return
		}
		if custom {
			if err := ids.Put([]byte(u.ID), key); err != nil {
				s.fail(batch, err)
				return
			}
		}
		count++
		size += int64(len(key) + len(rec))
		out[i] = u
	}
	deleted, more, err := s.retain(updates, ids, now, &count, &size)
	if err != nil {
		s.fail(batch, err)
		return
	}
	if len(batch) == 0 && deleted == 0 {
		s.trimPending = false
		return // nothing to write: no fsync
	}
	var oldest time.Time
	if _, v := updates.Cursor().First(); v != nil {
		oldest, _, _ = recordHead(v)
	}
	meta := tx.Bucket(bucketMeta)
	for _, kv := range [...]struct {
		k []byte
		v uint64
	}{{keyLast, seq}, {keyCount, uint64(count)}, {keyBytes, uint64(size)}} {
		if err := meta.Put(kv.k, be(kv.v)); err != nil {
			s.fail(batch, err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		s.fail(batch, err)
		return
	}
	s.last, s.count, s.bytes, s.oldest, s.trimPending = seq, count, size, oldest, more
	if len(batch) > 0 {
		s.lastTime = now
		s.commits.Add(1)
		s.committed.Add(int64(len(batch)))
	}
	if cap(arena) <= 4<<20 {
		s.arena = arena[:0]
	}
	s.feed.Publish(out)
	for i, r := range batch {
		r.u = out[i]
		r.done <- nil
	}
}

// fail reports a failed transaction to every request of batch: nothing of
// it was stored, and no Seq was consumed. A failure of retention alone is
// logged and retried a second later.
func (s *Store) fail(batch []*request, err error) {
	if len(batch) == 0 {
		s.log.Error("bolt: retention failed; retrying in a second", "path", s.path, "err", err)
		s.trimPending = false
		s.retryAt = time.Now().Add(time.Second)
		return
	}
	err = fmt.Errorf("bolt: append to %s: %v: %w", s.path, err, herald.ErrUnavailable)
	for _, r := range batch {
		r.done <- err
	}
}

// retain removes the oldest updates while the history is over a retention
// bound, at most s.trim of them. more reports that it stopped at that limit.
func (s *Store) retain(updates, ids *bbolt.Bucket, now time.Time, count, size *int64) (deleted int, more bool, err error) {
	r := s.ret
	cutoff := now.Add(-r.MaxAge)
	c := updates.Cursor()
	for {
		k, v := c.First()
		if k == nil {
			return deleted, false, nil
		}
		over := (r.MaxCount > 0 && *count > int64(r.MaxCount)) || (r.MaxBytes > 0 && *size > r.MaxBytes)
		t, id, herr := recordHead(v)
		if !over && r.MaxAge > 0 && herr == nil {
			over = t.Before(cutoff)
		}
		if !over {
			return deleted, false, nil
		}
		if deleted == s.trim {
			return deleted, true, nil
		}
		if id != nil && bytes.Equal(ids.Get(id), k) {
			if err := ids.Delete(bytes.Clone(id)); err != nil {
				return deleted, false, err
			}
		}
		*count--
		*size -= int64(len(k) + len(v))
		if err := c.Delete(); err != nil {
			return deleted, false, err
		}
		deleted++
	}
}

// binary8 appends seq as 8 big-endian bytes.
func binary8(b []byte, seq uint64) []byte {
	return append(b, byte(seq>>56), byte(seq>>48), byte(seq>>40), byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}
