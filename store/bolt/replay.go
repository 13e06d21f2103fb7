package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	bbolt "go.etcd.io/bbolt"
	bbolterrors "go.etcd.io/bbolt/errors"

	"github.com/herald-sse/herald"
)

// Replay implements herald.Store. It finds after with one B+tree seek (a
// generated id holds its Seq; a publisher-chosen id goes through the ids
// bucket, or the tail's index when it is that recent) and reads in chunks,
// from the tail when it holds them and otherwise each in its own short read
// transaction, calling fn with no transaction or lock held. If retention
// removes the next update while a slow fn runs, Replay returns an error
// wrapping herald.ErrNotHeld instead of skipping it.
func (s *Store) Replay(ctx context.Context, after string, fn func(herald.Update) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return fmt.Errorf("bolt: replay: %w", herald.ErrClosed)
	}
	next, upper, err := s.start(after)
	if err != nil || next > upper {
		return err
	}
	var buf []herald.Update
	max := firstChunk
	for next <= upper {
		if s.isClosed() {
			return fmt.Errorf("bolt: replay: %w", herald.ErrClosed)
		}
		var ok bool
		if buf, ok = s.tail.read(next, upper, max, buf[:0]); !ok {
			// Not in the tail: herald.db has it, unless retention
			// removed it.
			err := s.view(func(tx *bbolt.Tx) error {
				var err error
				buf, err = s.readChunk(tx.Bucket(bucketUpdates).Cursor(), next, upper, max, buf)
				return err
			})
			if err != nil {
				return err
			}
		}
		if len(buf) == 0 || buf[0].Seq != next {
			if after != herald.EarliestID {
				// Seqs are contiguous and retention removes the oldest:
				// next is missing only when it was trimmed meanwhile.
				return fmt.Errorf("bolt: replay after %q: update %d was removed by retention during the replay: %w", after, next, herald.ErrNotHeld)
			}
			// "Everything held": what retention removed meanwhile is no
			// longer held; go on from the oldest update that is.
			if len(buf) == 0 {
				first, _, ok := s.tail.bounds()
				if !ok || first <= next {
					return nil // nothing newer is held
				}
				next = first
				continue
			}
		}
		for _, u := range buf {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(u); err != nil {
				return err
			}
		}
		next = buf[len(buf)-1].Seq + 1
		max = chunk
	}
	return nil
}

// start returns the Seq Replay(after) starts from and the newest Seq held
// now, where it stops; next > upper means there is nothing to replay.
func (s *Store) start(after string) (next, upper uint64, err error) {
	s.moved.RLock()
	defer s.moved.RUnlock()
	// The tail first: an update leaves it only once herald.db has it, so
	// what is older than the tail's first update is in herald.db (or was
	// trimmed from it).
	tfirst, tlast, inTail := s.tail.bounds()
	instance, gseq, generated := herald.ParseID(after)
	if !generated && after != herald.EarliestID {
		if seq, ok := s.tail.id(after); ok {
			return seq + 1, tlast, nil
		}
	}
	err = s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketUpdates).Cursor()
		k, _ := c.Last()
		switch {
		case inTail:
			upper = tlast
		case k != nil:
			upper, _ = unbe(k)
		}
		if after == herald.EarliestID {
			next = tfirst
			if k, _ := c.First(); k != nil {
				next, _ = unbe(k)
			}
			if k == nil && !inTail {
				next = 1 // empty: upper is 0
			}
			return nil
		}
		var seq uint64
		if generated {
			if instance != s.instance {
				return s.notHeld(after)
			}
			seq = gseq
			if inTail && seq >= tfirst {
				if seq > tlast {
					return s.notHeld(after) // not assigned yet
				}
				next = seq + 1
				return nil
			}
		} else if key := tx.Bucket(bucketIDs).Get([]byte(after)); key != nil {
			seq, _ = unbe(key)
		} else {
			return s.notHeld(after)
		}
		if k, _ := c.Seek(be(seq)); !bytes.Equal(k, be(seq)) {
			return s.notHeld(after)
		}
		next = seq + 1
		return nil
	})
	return next, upper, err
}

// readChunk decodes up to max updates (and about chunkBytes) from Seq next
// to Seq upper into buf.
func (s *Store) readChunk(c *bbolt.Cursor, next, upper uint64, max int, buf []herald.Update) ([]herald.Update, error) {
	n := 0
	for k, v := c.Seek(be(next)); k != nil && len(buf) < max && n < chunkBytes; k, v = c.Next() {
		seq, ok := unbe(k)
		if !ok {
			return buf, fmt.Errorf("bolt: replay: bad key %x in %s", k, s.path)
		}
		if seq > upper {
			break
		}
		u, err := decodeRecord(v, seq, s.instance)
		if err != nil {
			return buf, fmt.Errorf("bolt: replay: update %d in %s: %w", seq, s.path, err)
		}
		buf = append(buf, u)
		n += len(v)
	}
	return buf, nil
}

func (s *Store) notHeld(after string) error {
	return fmt.Errorf("bolt: replay after %q: %w", after, herald.ErrNotHeld)
}

// Last implements herald.Store: the newest update's position.
func (s *Store) Last(ctx context.Context) (string, uint64, error) {
	if s.isClosed() {
		return "", 0, fmt.Errorf("bolt: last: %w", herald.ErrClosed)
	}
	s.moved.RLock()
	defer s.moved.RUnlock()
	if _, last, ok := s.tail.bounds(); ok {
		return herald.FormatID(s.instance, last), last, nil
	}
	// The tail is empty: herald.db holds everything acknowledged.
	var last uint64
	err := s.view(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketUpdates).Cursor().Last(); k != nil {
			last, _ = unbe(k)
		}
		return nil
	})
	if err != nil || last == 0 {
		return "", 0, err
	}
	return herald.FormatID(s.instance, last), last, nil
}

// Lookup implements herald.Store: a publisher's id through the tail's index
// or the ids bucket, then the update at its Seq from the tail or with one
// B+tree seek.
func (s *Store) Lookup(ctx context.Context, id string) (herald.Update, error) {
	if s.isClosed() {
		return herald.Update{}, fmt.Errorf("bolt: lookup: %w", herald.ErrClosed)
	}
	notHeld := fmt.Errorf("bolt: lookup %q: %w", id, herald.ErrNotHeld)
	instance, seq, generated := herald.ParseID(id)
	switch {
	case generated && instance != s.instance, !generated && (id == "" || id == herald.EarliestID):
		return herald.Update{}, notHeld
	}
	s.moved.RLock()
	defer s.moved.RUnlock()
	if !generated {
		var ok bool
		if seq, ok = s.tail.id(id); !ok {
			seq = 0 // not in the tail: herald.db's index says
		}
	}
	if seq != 0 {
		if u, ok := s.tail.at(seq); ok {
			return u, nil
		}
	}
	var u herald.Update
	err := s.view(func(tx *bbolt.Tx) error {
		if !generated {
			key := tx.Bucket(bucketIDs).Get([]byte(id))
			if key == nil {
				return notHeld
			}
			seq, _ = unbe(key)
		}
		v := tx.Bucket(bucketUpdates).Get(be(seq))
		if v == nil {
			return notHeld
		}
		var err error
		if u, err = decodeRecord(v, seq, s.instance); err != nil {
			return fmt.Errorf("bolt: lookup: update %d in %s: %w", seq, s.path, err)
		}
		return nil
	})
	return u, err
}

// Watch implements herald.Store: fn is called from the calling goroutine
// with each committed batch; a slow fn delays only this watcher (the batches
// it has not seen yet stay in memory meanwhile).
func (s *Store) Watch(ctx context.Context, fn func([]herald.Update)) error {
	return s.feed.Watch(ctx, fn)
}

// view runs fn in a read transaction; a closed database gives ErrClosed. A
// file damaged after Open's check makes bbolt panic or fault: that becomes an
// error rather than a crash of the process.
func (s *Store) view(fn func(*bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bolt: %s: %w", s.path, damaged(r))
		}
	}()
	err = s.db.View(fn)
	if errors.Is(err, bbolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("bolt: %w", herald.ErrClosed)
	}
	return err
}

// damaged explains a panic caught while reading or writing the file.
func damaged(r any) error {
	return fmt.Errorf("file damaged (%v); stop herald and restore or move it away", r)
}

func (s *Store) isClosed() bool {
	return s.gate.Closed()
}
