package bolt

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/herald-sse/herald"
)

// WithTrimBatch returns o with retention removing at most n updates per
// transaction.
func WithTrimBatch(o Options, n int) Options {
	o.trimBatch = n
	return o
}

// Commits reports how many group commits (log writes) there were, and how
// many updates they wrote.
func Commits(s *Store) (commits, updates int64) { return s.commits.Load(), s.committed.Load() }

// Chunks reports Replay's chunk sizes (first read, later reads).
func Chunks() (first, rest int) { return firstChunk, chunk }

// BulkLoad appends n updates with generated ids, data and topic
// "urn:bench", to the (closed) history in dir, creating it if needed. It
// writes straight into the file in large transactions without fsync (then
// syncs once): for building benchmark histories only.
func BulkLoad(dir string, n int, data string) error {
	s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{NoSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer db.Close()
	u := herald.Update{Topics: []string{"urn:bench"}, Data: data, Time: time.Now().Round(0)}
	for done := 0; done < n; {
		err := db.Update(func(tx *bbolt.Tx) error {
			m, err := readMeta(tx)
			if err != nil {
				return err
			}
			updates := tx.Bucket(bucketUpdates)
			updates.FillPercent = 1
			var arena []byte
			for i := 0; i < 100_000 && done < n; i, done = i+1, done+1 {
				m.last++
				start := len(arena)
				arena = appendRecord(binary8(arena, m.last), &u, false)
				if err := updates.Put(arena[start:start+8], arena[start+8:]); err != nil {
					return err
				}
				m.count++
				m.bytes += uint64(len(arena) - start)
			}
			meta := tx.Bucket(bucketMeta)
			for k, v := range map[string]uint64{string(keyLast): m.last, string(keyCount): m.count, string(keyBytes): m.bytes} {
				if err := meta.Put([]byte(k), be(v)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return db.Sync()
}

// Check verifies the invariants of the (closed) history file at path: Seqs
// contiguous up to meta's last, every record decodable, meta's count and
// bytes equal to a full scan, and the ids bucket pointing every publisher id
// at its most recent held use and at nothing else.
func Check(path string) error {
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		var count, size uint64
		var prev uint64
		latest := map[string]uint64{}
		err = tx.Bucket(bucketUpdates).ForEach(func(k, v []byte) error {
			seq, ok := unbe(k)
			if !ok {
				return fmt.Errorf("bad key %x", k)
			}
			if count > 0 && seq != prev+1 {
				return fmt.Errorf("seq %d follows %d: not contiguous", seq, prev)
			}
			u, err := decodeRecord(v, seq, m.instance)
			if err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			if _, _, gen := herald.ParseID(u.ID); !gen {
				latest[u.ID] = seq
			}
			prev = seq
			count++
			size += uint64(len(k) + len(v))
			return nil
		})
		if err != nil {
			return err
		}
		if count > 0 && prev != m.last {
			return fmt.Errorf("newest seq %d, meta last %d", prev, m.last)
		}
		if count != m.count || size != m.bytes {
			return fmt.Errorf("scan found %d updates, %d bytes; meta says %d, %d", count, size, m.count, m.bytes)
		}
		indexed := 0
		err = tx.Bucket(bucketIDs).ForEach(func(k, v []byte) error {
			indexed++
			if want, ok := latest[string(k)]; !ok || !bytes.Equal(v, be(want)) {
				return fmt.Errorf("ids[%q] = %x, want the seq of its most recent held use (%d, held: %v)", k, v, want, ok)
			}
			return nil
		})
		if err == nil && indexed != len(latest) {
			err = fmt.Errorf("ids bucket has %d entries, %d publisher ids are held", indexed, len(latest))
		}
		return err
	})
}

// WithWALLimit returns o with the write-ahead log reset (and preallocated)
// at n bytes instead of 64 MiB.
func WithWALLimit(o Options, n int64) Options {
	o.walLimit = n
	return o
}

// WithHeldApply returns o with nothing moved from the write-ahead log to
// herald.db after Open: Close then leaves the directory as a crash right
// after the last acknowledgement would.
func WithHeldApply(o Options) Options {
	o.holdApply = true
	return o
}

// WALFrames reads the write-ahead log in dir (of history instance) and
// returns the Seq and file offset of each frame it holds, and its
// generation.
func WALFrames(dir, instance string) (seqs []uint64, offsets []int64, gen uint64, err error) {
	w, frames, err := openWAL(dir, instance, walLimit)
	if err != nil {
		return nil, nil, 0, err
	}
	defer w.close()
	off := int64(walHeaderSize)
	for _, f := range frames {
		seqs = append(seqs, f.seq)
		offsets = append(offsets, off)
		off += frameHeader + int64(len(f.rec))
	}
	return seqs, offsets, w.gen, nil
}

// Applies reports how many transactions moved updates into herald.db or
// applied retention.
func Applies(s *Store) int64 { return s.applies.Load() }

// BreakWAL closes the write-ahead log's file under the store, so that its
// next write fails.
func BreakWAL(s *Store) { s.wal.f.Close() }

// WithAfterCommit returns o with f run between each applier transaction's
// commit and the tail's dropping what it wrote (after recovery at Open).
func WithAfterCommit(o Options, f func()) Options {
	o.afterCommit = f
	return o
}
