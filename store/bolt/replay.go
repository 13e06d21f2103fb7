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
// bucket) and reads in chunks, each in its own short read transaction,
// calling fn with no transaction open. If retention removes the next update
// while a slow fn runs, Replay returns an error wrapping herald.ErrNotHeld
// instead of skipping it.
func (s *Store) Replay(ctx context.Context, after string, fn func(herald.Update) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return fmt.Errorf("bolt: replay: %w", herald.ErrClosed)
	}
	var (
		next, upper uint64
		buf         []herald.Update
		found       bool
	)
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketUpdates).Cursor()
		k, _ := c.Last()
		if k == nil {
			if after == herald.EarliestID {
				return nil
			}
			return s.notHeld(after)
		}
		upper, _ = unbe(k)
		if after == herald.EarliestID {
			k, _ = c.First()
			next, _ = unbe(k)
		} else {
			var key []byte
			if instance, seq, ok := herald.ParseID(after); ok {
				if instance != s.instance {
					return s.notHeld(after)
				}
				key = be(seq)
			} else if key = tx.Bucket(bucketIDs).Get([]byte(after)); key == nil {
				return s.notHeld(after)
			}
			if k, _ := c.Seek(key); !bytes.Equal(k, key) {
				return s.notHeld(after)
			}
			seq, _ := unbe(key)
			next = seq + 1
		}
		found = true
		var err error
		buf, err = s.readChunk(c, next, upper, firstChunk, buf)
		return err
	})
	if err != nil || !found {
		return err
	}
	for {
		for _, u := range buf {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(u); err != nil {
				return err
			}
		}
		if len(buf) == 0 {
			return nil
		}
		next = buf[len(buf)-1].Seq + 1
		if next > upper {
			return nil
		}
		if s.isClosed() {
			return fmt.Errorf("bolt: replay: %w", herald.ErrClosed)
		}
		err := s.view(func(tx *bbolt.Tx) error {
			var err error
			buf, err = s.readChunk(tx.Bucket(bucketUpdates).Cursor(), next, upper, chunk, buf[:0])
			if err == nil && after == herald.EarliestID {
				// "Everything held": what retention removed meanwhile is
				// no longer held; go on from the oldest update that is.
				return nil
			}
			if err == nil && (len(buf) == 0 || buf[0].Seq != next) {
				// Seqs are contiguous and retention removes the oldest:
				// next is missing only when it was trimmed meanwhile.
				return fmt.Errorf("bolt: replay after %q: update %d was removed by retention during the replay: %w", after, next, herald.ErrNotHeld)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
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

// Last implements herald.Store.
func (s *Store) Last(ctx context.Context) (string, uint64, error) {
	if s.isClosed() {
		return "", 0, fmt.Errorf("bolt: last: %w", herald.ErrClosed)
	}
	var id string
	var last uint64
	err := s.view(func(tx *bbolt.Tx) error {
		k, v := tx.Bucket(bucketUpdates).Cursor().Last()
		if k == nil {
			return nil
		}
		seq, _ := unbe(k)
		last = seq
		_, custom, err := recordHead(v)
		if err != nil {
			return fmt.Errorf("bolt: last: update %d in %s: %w", seq, s.path, err)
		}
		if custom != nil {
			id = string(custom)
		} else {
			id = herald.FormatID(s.instance, seq)
		}
		return nil
	})
	return id, last, err
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}
