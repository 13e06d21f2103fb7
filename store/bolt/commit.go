package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/herald-sse/herald"
)

// request is one Append or AppendBatch waiting for the committer.
type request struct {
	us    []herald.Update  // in: the updates; out: as stored
	batch bool             // from AppendBatch: errors name the update at fault
	done  chan error       // buffered; receives exactly one value
	one   [1]herald.Update // us's array for Append
}

// refuse fails r because of its update i.
func (r *request) refuse(i int, err error) {
	if r.batch {
		r.done <- fmt.Errorf("bolt: append batch: %w", &herald.BatchError{Index: i, Err: err})
		return
	}
	r.done <- fmt.Errorf("bolt: append: %w", err)
}

// checkSize refuses an update too large for the store.
func checkSize(u *herald.Update) error {
	if len(u.Data) > maxDataSize {
		return fmt.Errorf("data is %d bytes, the limit is %d: %w", len(u.Data), maxDataSize, herald.ErrTooLarge)
	}
	n := 64 + len(u.ID) + len(u.Type) + len(u.Data)
	for _, t := range u.Topics {
		n += binary.MaxVarintLen64 + len(t)
	}
	if n >= continued {
		return fmt.Errorf("the update is about %d bytes, the limit is %d: %w", n, continued, herald.ErrTooLarge)
	}
	return nil
}

// Append implements herald.Store. It returns once the update is in the
// write-ahead log and fdatasync'd; concurrent Appends share that write and
// sync. Errors: ErrInvalid, ErrTooLarge (Data over 256 MiB), ErrConflict
// (u.ID is held; nothing was stored), ErrClosed, ErrUnavailable (the log
// cannot be written, or is full while herald.db cannot be written, as on a
// full disk: nothing was acknowledged, and Appends succeed again once the
// disk has room, with no restart; should the process stop before, what a
// failed write left on disk may be recovered by the next Open, as after a
// crash), or ctx's error.
func (s *Store) Append(ctx context.Context, u herald.Update) (herald.Update, error) {
	if err := u.Validate(); err != nil {
		return herald.Update{}, fmt.Errorf("bolt: append: %w", err)
	}
	if err := checkSize(&u); err != nil {
		return herald.Update{}, fmt.Errorf("bolt: append: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	r := &request{done: make(chan error, 1)}
	u.Topics = slices.Clone(u.Topics) // the caller may reuse its slice
	r.one[0] = u
	r.us = r.one[:]
	if err := s.submit(ctx, r, "bolt: append"); err != nil {
		return herald.Update{}, err
	}
	return r.us[0], nil
}

// AppendBatch implements herald.Store: the batch is one request to the
// committer, written with the group it joins in one write and one
// fdatasync, its frames marked so that a torn write drops it whole (see
// wal.go). Errors are Append's; those that concern one update are a
// *herald.BatchError.
func (s *Store) AppendBatch(ctx context.Context, us []herald.Update) ([]herald.Update, error) {
	if err := herald.ValidateBatch(us); err != nil {
		return nil, fmt.Errorf("bolt: append batch: %w", err)
	}
	for i := range us {
		if err := checkSize(&us[i]); err != nil {
			return nil, fmt.Errorf("bolt: append batch: %w", &herald.BatchError{Index: i, Err: err})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, nil
	}
	r := &request{us: make([]herald.Update, len(us)), batch: true, done: make(chan error, 1)}
	for i, u := range us {
		u.Topics = slices.Clone(u.Topics)
		r.us[i] = u
	}
	if err := s.submit(ctx, r, "bolt: append batch"); err != nil {
		return nil, err
	}
	return r.us, nil
}

// submit hands r to the committer and waits for its outcome.
func (s *Store) submit(ctx context.Context, r *request, op string) error {
	if !s.gate.Enter() {
		return fmt.Errorf("%s: %w", op, herald.ErrClosed)
	}
	defer s.gate.Leave()
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // it may still be committed
	}
}

// walRetry is how often the committer tries to heal a log it failed to
// write while no Append comes to try (so that Healthy recovers by itself).
const walRetry = time.Second

// run is the committer: the only writer of the write-ahead log.
func (s *Store) run() {
	defer s.wg.Done()
	batch := make([]*request, 0, s.maxBatch)
	retry := time.NewTimer(walRetry)
	defer retry.Stop()
	for {
		if s.wal.failed() {
			retry.Reset(walRetry)
		} else {
			retry.Stop()
		}
		select {
		case <-retry.C:
			s.walWritten(s.wal.heal())
		case r := <-s.reqs:
			batch = s.gather(append(batch[:0], r), len(r.us))
			s.commit(batch)
		case <-s.quit:
			// Close waited for every Append, but some gave up on their
			// context after queueing: commit those too.
			for {
				batch, _ = s.drain(batch[:0], 0)
				if len(batch) == 0 {
					return
				}
				s.commit(batch)
			}
		}
		clear(batch) // drop references to served requests
	}
}

// yieldRounds bounds how often gather yields the processor. (Measured on
// 2 cores, 16 publishers: 15 updates per commit with it, 8 without, twice
// the publishes/s. A timed wait for more did worse under load.)
const yieldRounds = 8

// gather collects everything queued while the previous commit was syncing,
// up to maxBatch updates (n are in batch already). Publishers woken by that
// commit's acknowledgements are runnable but may not have run yet: gather
// yields to them while they keep coming, so that they join this commit
// instead of the next. It never sleeps.
func (s *Store) gather(batch []*request, n int) []*request {
	batch, n = s.drain(batch, n)
	for range yieldRounds {
		had := len(batch)
		if n >= s.maxBatch {
			break
		}
		runtime.Gosched()
		if batch, n = s.drain(batch, n); len(batch) == had {
			break
		}
	}
	return batch
}

// drain adds to batch, which holds n updates, every request already
// queued while it holds fewer than maxBatch updates.
func (s *Store) drain(batch []*request, n int) ([]*request, int) {
	for n < s.maxBatch {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
			n += len(r.us)
		default:
			return batch, n
		}
	}
	return batch, n
}

// maxTail bounds the updates acknowledged but not yet in herald.db: past
// it, the committer waits for the applier (which writes thousands per
// transaction, so it only waits when herald.db's disk is far slower).
const maxTail = 1 << 16

// commit makes batch durable with one write and one fdatasync of the
// write-ahead log, then hands it to the applier, publishes it to the
// watchers and acknowledges it: a watcher never lags an acknowledged Append.
//
// When the log is full it is reset first, once herald.db holds all of it.
// When herald.db cannot be written (a full disk), the log is never grown
// past its preallocated size for want of a reset: the batch fails with
// ErrUnavailable, and a later one succeeds as soon as the applier does again.
func (s *Store) commit(batch []*request) {
	if s.tail.len() >= maxTail && s.applyError() != nil {
		s.waitApplied(maxTail / 2) // one more attempt, made now
		if s.tail.len() >= maxTail {
			s.fail(batch, fmt.Errorf("bolt: append: %d updates wait for %s, which cannot be written: %v: %w", s.tail.len(), s.path, s.applyError(), herald.ErrUnavailable))
			return
		}
	}
	if batch = s.refuseConflicts(batch); len(batch) == 0 {
		return
	}
	now := time.Now().Round(0)
	if now.Before(s.lastTime) {
		now = s.lastTime
	}
	n := 0
	for _, r := range batch {
		n += len(r.us)
	}
	seq := s.last
	// A new buffer each time: the tail keeps the records, which are
	// slices of it (growing it leaves earlier slices on the old array).
	frames := make([]byte, 0, 256*n)
	es := make([]entry, 0, n)
	starts := make([]int, 0, n+1)
	more := make([]bool, 0, n)
	for _, r := range batch {
		for i := range r.us {
			seq++
			u := r.us[i]
			u.Seq, u.Time = seq, now
			custom := u.ID != ""
			if !custom {
				u.ID = herald.FormatID(s.instance, seq)
			}
			var start int
			frames, start = beginFrame(frames)
			frames = appendRecord(frames, &u, custom)
			starts = append(starts, start)
			more = append(more, i < len(r.us)-1) // the rest of the batch follows
			es = append(es, entry{u: u, custom: custom})
		}
	}
	starts = append(starts, len(frames))
	if !s.wal.fits(len(frames), s.walLimit) {
		if err := s.resetWAL(); err != nil {
			s.fail(batch, err)
			return
		}
	}
	for i := range es { // sealed with the log's generation, after any reset
		start, end := starts[i], starts[i+1]
		s.wal.sealFrame(frames[start:end], es[i].u.Seq, more[i])
		es[i].rec = frames[start+frameHeader : end : end]
	}
	if err := s.walWritten(s.wal.write(frames)); err != nil {
		s.fail(batch, err)
		return
	}
	s.last, s.lastTime = seq, now
	s.commits.Add(1)
	s.committed.Add(int64(n))
	if t := s.tail.push(es); t == len(es) || t >= applyBatch && t-len(es) < applyBatch {
		s.kick() // the tail was empty, or just reached applyBatch
	}
	out := make([]herald.Update, len(es))
	for i := range es {
		out[i] = es[i].u
	}
	s.feed.Publish(out)
	k := 0
	for _, r := range batch {
		k += copy(r.us, out[k:k+len(r.us)])
		r.done <- nil
	}
	if s.tail.len() > maxTail { // keep the tail bounded
		s.waitApplied(maxTail / 2)
	}
}

// resetWAL empties the full log once herald.db holds all of it. It fails,
// with an error wrapping herald.ErrUnavailable, when herald.db cannot take
// it (the applier's attempt, made now, failed) or the reset fails.
func (s *Store) resetWAL() error {
	s.waitApplied(0)
	if n := s.tail.len(); n > 0 {
		return fmt.Errorf("bolt: append: the write-ahead log %s is full and the %d updates it holds cannot be moved into %s: %v: %w",
			s.wal.path, n, s.path, s.applyError(), herald.ErrUnavailable)
	}
	return s.walWritten(s.wal.reset())
}

// walWritten records the outcome of a write, reset or heal of the log
// (Healthy reports a failure until one succeeds), logs when it changes, and
// returns err wrapped for Append.
func (s *Store) walWritten(err error) error {
	s.errMu.Lock()
	was := s.walErr
	if err != nil {
		err = fmt.Errorf("bolt: the write-ahead log cannot be written: %v: %w", err, herald.ErrUnavailable)
	}
	s.walErr = err
	s.errMu.Unlock()
	switch {
	case err != nil && was == nil:
		s.log.Error("bolt: the write-ahead log cannot be written; appends fail until it can (no restart needed: it is retried every second and by each append)", "path", s.wal.path, "err", err)
	case err == nil && was != nil:
		s.log.Info("bolt: the write-ahead log can be written again; appends are accepted", "path", s.wal.path)
	}
	return err
}

// refuseConflicts fails, with an error wrapping herald.ErrConflict, every
// request of batch one of whose ids is held (in the tail, in herald.db, or
// by an earlier request of batch), and returns the others, in order, in
// batch's array. Only the committer assigns Seqs, so no id can be claimed
// between this check and the write. It reads herald.db (one read
// transaction) only for publisher-chosen ids the tail does not hold.
func (s *Store) refuseConflicts(batch []*request) []*request {
	var held map[string]bool // publisher-chosen id -> held
	var check []string       // ids to look up in herald.db
	for _, r := range batch {
		for i := range r.us {
			id := r.us[i].ID
			if id == "" {
				continue
			}
			if held == nil {
				held = make(map[string]bool)
			} else if _, seen := held[id]; seen {
				continue
			}
			_, inTail := s.tail.id(id)
			held[id] = inTail
			if !inTail {
				check = append(check, id)
			}
		}
	}
	if held == nil {
		return batch
	}
	var dbErr error
	if len(check) > 0 {
		dbErr = s.view(func(tx *bbolt.Tx) error {
			ids := tx.Bucket(bucketIDs)
			for _, id := range check {
				if ids.Get([]byte(id)) != nil {
					held[id] = true
				}
			}
			return nil
		})
		if dbErr != nil {
			dbErr = fmt.Errorf("looking ids up in %s: %v: %w", s.path, dbErr, herald.ErrUnavailable)
		}
	}
	keep := batch[:0]
next:
	for _, r := range batch {
		for i := range r.us {
			if id := r.us[i].ID; id != "" && (dbErr != nil || held[id]) {
				if dbErr != nil {
					r.done <- fmt.Errorf("bolt: append: %w", dbErr)
				} else {
					r.refuse(i, fmt.Errorf("id %q is held in history: %w", id, herald.ErrConflict))
				}
				continue next
			}
		}
		for i := range r.us {
			if id := r.us[i].ID; id != "" {
				held[id] = true // this request claims it
			}
		}
		keep = append(keep, r)
	}
	return keep
}

// fail reports a failed commit to every request of batch: nothing of it was
// acknowledged. (After a failed write or sync of the log, part of the batch
// may still have reached the disk and be recovered by the next Open.)
func (s *Store) fail(batch []*request, err error) {
	for _, r := range batch {
		r.done <- err
	}
}

func (s *Store) walError() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.walErr
}

// Healthy implements herald.HealthChecker: it fails while the write-ahead
// log cannot be written, and while herald.db cannot be (a full disk: once
// space is freed, both are retried within a second, and by each Append).
func (s *Store) Healthy(context.Context) error {
	if err := s.walError(); err != nil {
		return err
	}
	if err := s.applyError(); err != nil {
		return fmt.Errorf("bolt: %s cannot be written (acknowledged updates are safe in the write-ahead log): %v: %w", s.path, err, herald.ErrUnavailable)
	}
	return nil
}

// waitApplied waits until the tail holds at most n updates, or an attempt
// of the applier started after the call fails.
func (s *Store) waitApplied(n int) {
	s.applyNow.Store(true)
	defer s.applyNow.Store(false)
	s.tail.waitBelow(n, s.kick)
}
