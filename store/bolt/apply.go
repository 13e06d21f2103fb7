package bolt

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// applyBatch is the most updates the applier writes in one transaction, and
// how many make it start one at once.
const applyBatch = 8192

// applyDelay is the longest an acknowledged update waits before the
// applier starts moving it into herald.db. Under load, herald.db gets a
// transaction per applyBatch updates rather than one per log write, so
// that its page writes and syncs rarely delay the log's syncs (measured
// with 16 publishers: the log's sync averaged 190–215 µs beside
// transactions of 8192 updates, 264 µs beside one every 10 ms).
const applyDelay = 250 * time.Millisecond

// apply is the applier: the only writer of herald.db after Open. It moves
// the tail into herald.db in large transactions (bbolt's own two syncs each)
// and applies retention, in bounded steps, in the same transactions. The
// committer kicks it when the tail stops being empty and when it reaches
// applyBatch; it starts a transaction applyDelay after the first kick, or
// at once on the second or when the committer waits for it (applyNow); it also wakes when the oldest update expires, and
// a second after a failure. On Close it writes everything.
func (s *Store) apply() {
	defer s.applyWG.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.kickc:
			if s.tail.len() < applyBatch && !s.applyNow.Load() {
				wait := time.NewTimer(applyDelay)
				select {
				case <-wait.C:
				case <-s.kickc:
				case <-s.applyQuit:
					wait.Stop()
					for s.applyOnce() {
					}
					timer.Stop()
					return
				}
				wait.Stop()
			}
		case <-timer.C:
			s.trimPending = true // an update may have expired, or a retry is due
		case <-s.applyQuit:
			for s.applyOnce() {
			}
			timer.Stop()
			return
		}
		for s.applyOnce() {
		}
		switch {
		case s.applyError() != nil:
			timer.Reset(time.Second)
		case s.ret.MaxAge > 0 && !s.oldest.IsZero():
			// Wake when the oldest update expires.
			timer.Reset(time.Until(s.oldest.Add(s.ret.MaxAge + time.Millisecond)))
		}
	}
}

// kick wakes the applier (without waiting).
func (s *Store) kick() {
	select {
	case s.kickc <- struct{}{}:
	default:
	}
}

// applyOnce writes the front of the tail and a step of retention in one
// transaction. It reports whether it did something and there may be more.
func (s *Store) applyOnce() bool {
	if s.holdApply {
		return false
	}
	es := s.tail.front(applyBatch)
	if len(es) == 0 && !s.trimPending {
		return false
	}
	n := s.tail.begin()
	did, err := s.applyTx(es)
	was := s.setApplyError(err)
	switch {
	case err != nil && was == nil:
		s.log.Error("bolt: writing the history file failed; retrying every second and when the write-ahead log fills (acknowledged updates are safe in the log)", "path", s.path, "err", err)
	case err == nil && was != nil:
		s.log.Info("bolt: the history file can be written again", "path", s.path)
	}
	if err != nil {
		s.tail.attemptFailed(n)
		return false
	}
	return did
}

// applyTx writes es (possibly none) and a bounded amount of retention work
// in one transaction, then drops es from the tail. did reports that it
// wrote something.
func (s *Store) applyTx(es []entry) (did bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil { // a file damaged after Open's check
			err = damaged(r)
		}
	}()
	now := time.Now()
	tx, err := s.db.Begin(true)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() // no-op after Commit
	updates, ids := tx.Bucket(bucketUpdates), tx.Bucket(bucketIDs)
	updates.FillPercent = 1 // keys only ever grow: pack pages full

	applied, count, size := s.applied, s.count, s.bytes
	keys := make([]byte, 0, 8*len(es)) // bbolt keeps keys until Commit
	for _, e := range es {
		if e.u.Seq != applied+1 {
			return false, fmt.Errorf("bolt: update %d follows %d in the write-ahead log", e.u.Seq, applied)
		}
		applied = e.u.Seq
		keys = binary8(keys, applied)
		key := keys[len(keys)-8 : len(keys) : len(keys)]
		if err := updates.Put(key, e.rec); err != nil {
			return false, err
		}
		if e.custom {
			if err := ids.Put([]byte(e.u.ID), key); err != nil {
				return false, err
			}
		}
		count++
		size += int64(len(key) + len(e.rec))
	}
	deleted, more, err := s.retain(updates, ids, now, &count, &size)
	if err != nil {
		return false, err
	}
	if len(es) == 0 && deleted == 0 {
		s.trimPending = false
		return false, nil // nothing to write: no fsync
	}
	var oldest time.Time
	if _, v := updates.Cursor().First(); v != nil {
		oldest, _, _ = recordHead(v)
	}
	meta := tx.Bucket(bucketMeta)
	for _, kv := range [...]struct {
		k []byte
		v uint64
	}{{keyLast, applied}, {keyCount, uint64(count)}, {keyBytes, uint64(size)}} {
		if err := meta.Put(kv.k, be(kv.v)); err != nil {
			return false, err
		}
	}
	s.moved.Lock()
	err = tx.Commit()
	if err == nil {
		if s.afterCommit != nil {
			s.afterCommit()
		}
		s.tail.drop(len(es))
	}
	s.moved.Unlock()
	if err != nil {
		return false, err
	}
	s.applied, s.count, s.bytes, s.oldest, s.trimPending = applied, count, size, oldest, more
	s.applies.Add(1)
	return true, nil
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

// setApplyError records the outcome of the applier's last attempt and
// returns the previous one's.
func (s *Store) setApplyError(err error) (was error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	was, s.applyErr = s.applyErr, err
	return was
}

// applyError returns the error of the applier's last attempt, if it failed.
func (s *Store) applyError() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.applyErr
}

// binary8 appends seq as 8 big-endian bytes.
func binary8(b []byte, seq uint64) []byte {
	return append(b, byte(seq>>56), byte(seq>>48), byte(seq>>40), byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}
