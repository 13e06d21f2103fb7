package bolt

import (
	"context"
	"fmt"
	"runtime"
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
	if len(u.Data) > maxDataSize {
		return herald.Update{}, fmt.Errorf("bolt: append: data is %d bytes, the limit is %d: %w", len(u.Data), maxDataSize, herald.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	if !s.gate.Enter() {
		return herald.Update{}, fmt.Errorf("bolt: append: %w", herald.ErrClosed)
	}
	defer s.gate.Leave()

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
			batch = s.gather(append(batch[:0], r))
			s.commit(batch)
		case <-s.quit:
			// Close waited for every Append, but some gave up on their
			// context after queueing: commit those too.
			for {
				batch = s.drain(batch[:0])
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
	seq := s.last
	// A new buffer each time: the tail keeps the records, which are
	// slices of it (growing it leaves earlier slices on the old array).
	frames := make([]byte, 0, 256*len(batch))
	es := make([]entry, len(batch))
	starts := make([]int, len(batch))
	for i, r := range batch {
		seq++
		u := r.u
		u.Seq, u.Time = seq, now
		custom := u.ID != ""
		if !custom {
			u.ID = herald.FormatID(s.instance, seq)
		}
		frames, starts[i] = beginFrame(frames)
		frames = appendRecord(frames, &u, custom)
		es[i] = entry{u: u, custom: custom}
	}
	if !s.wal.fits(len(frames), s.walLimit) {
		if err := s.resetWAL(); err != nil {
			s.fail(batch, err)
			return
		}
	}
	for i, start := range starts { // sealed with the log's generation, after any reset
		end := len(frames)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		s.wal.sealFrame(frames[start:end], es[i].u.Seq)
		es[i].rec = frames[start+frameHeader : end : end]
	}
	if err := s.walWritten(s.wal.write(frames)); err != nil {
		s.fail(batch, err)
		return
	}
	s.last, s.lastTime = seq, now
	s.commits.Add(1)
	s.committed.Add(int64(len(batch)))
	if n := s.tail.push(es); n == len(es) || n >= applyBatch && n-len(es) < applyBatch {
		s.kick() // the tail was empty, or just reached applyBatch
	}
	out := make([]herald.Update, len(es))
	for i := range es {
		out[i] = es[i].u
	}
	s.feed.Publish(out)
	for i, r := range batch {
		r.u = out[i]
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
// request of batch whose id is held (in the tail, in herald.db, or by an
// earlier request of batch), and returns the others, in order, in batch's
// array. Only the committer assigns Seqs, so no id can be claimed between
// this check and the write. It reads herald.db (one read transaction) only
// for publisher-chosen ids the tail does not hold.
func (s *Store) refuseConflicts(batch []*request) []*request {
	var held map[string]bool // publisher-chosen id -> held
	var check []string       // ids to look up in herald.db
	for _, r := range batch {
		id := r.u.ID
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
			dbErr = fmt.Errorf("bolt: append: looking ids up in %s: %v: %w", s.path, dbErr, herald.ErrUnavailable)
		}
	}
	keep := batch[:0]
	for _, r := range batch {
		if id := r.u.ID; id != "" {
			switch {
			case dbErr != nil:
				r.done <- dbErr
				continue
			case held[id]:
				r.done <- fmt.Errorf("bolt: append: id %q is held in history: %w", id, herald.ErrConflict)
				continue
			}
			held[id] = true // this request claims it
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
