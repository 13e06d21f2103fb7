// Package bolt is Herald's embedded durable [herald.Store], the default of
// `herald serve`: a bbolt file, <dir>/herald.db, in front of which sits a
// write-ahead log, <dir>/herald.wal.
//
// Appends are group-committed to the log: one goroutine (the committer)
// writes every pending update, and every pending batch (AppendBatch), with
// one write and one fdatasync of the preallocated log, then acknowledges
// them all and passes them to the watchers. Append returns only once its
// update is on disk, concurrent publishers share syncs, and a sync costs one
// disk flush rather than a bbolt commit's two plus its page writes. A second
// goroutine (the applier) moves acknowledged updates into herald.db in large
// transactions, at most a quarter of a second later (see apply.go); until
// then Replay, Lookup and Last read them from memory (the tail). When the
// next write would not fit in the log's 64 MiB and herald.db holds all of
// it, the log is reset. Open moves whatever the log holds that herald.db
// lacks (what a crash left) into herald.db before it starts. See wal.go for
// the log's format, how a torn last write is told apart, and how a batch is
// kept whole.
//
// On a full disk, herald.db stops taking the tail first; Appends go on into
// the preallocated log until it is full, then fail with
// [herald.ErrUnavailable] (storing nothing) and Healthy fails. Once space is
// freed, the next Append, or the store's own retry within a second, finds it
// and publishing resumes without a restart (see commit.go).
//
// herald.db's layout (see also record.go):
//
//	meta     format    "herald-history/1"
//	         instance  the store's instance id, random, made once
//	         last      big-endian uint64: the last Seq in herald.db
//	         count     big-endian uint64: updates held
//	         bytes     big-endian uint64: sum of key+record sizes held
//	updates  big-endian Seq -> record (Seqs are contiguous; retention removes
//	         the oldest, so what is held is always one range)
//	ids      publisher-chosen id -> big-endian Seq of the update held with it
//
// Replay and Lookup seek the updates bucket (a B+tree) to a position:
// O(log n) from any position. The committer refuses an update whose id the
// tail or the ids bucket holds ([herald.ErrConflict]) before it assigns
// Seqs. Retention (count, age, bytes) is applied by the applier in
// bounded steps within its transactions, so it never stalls an Append, and
// the running count and byte total make it need no scan.
//
// Open never modifies a file it did not create: a file that is not a valid
// bbolt database, one without Herald's meta bucket, and a log that is not
// one, belongs to another history or does not continue herald.db, are
// refused with an error naming them.
package bolt

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bbolterrors "go.etcd.io/bbolt/errors"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/internal/feed"
	"github.com/herald-sse/herald/store/internal/gate"
)

// FileName is the name of the history file in the directory given to Open.
const FileName = "herald.db"

// Defaults for Options.
const (
	// DefaultLockTimeout is how long Open waits for another process to
	// release the file.
	DefaultLockTimeout = time.Second
	// DefaultMaxBatch is the most updates written to the log at once.
	DefaultMaxBatch = 4096
)

// Limits and tuning that are not options.
const (
	// defaultTrimBatch is the most updates one transaction removes for
	// retention, which bounds how long retention can delay an Append.
	defaultTrimBatch = 1000
	// Replay reads at most firstChunk updates in its first read transaction
	// (so the first one arrives fast) and chunk in each later one; bbolt's
	// read transactions block the file's remapping, so none is held long.
	firstChunk = 16
	chunk      = 1024
	// chunkBytes also bounds a chunk, by record size.
	chunkBytes = 1 << 20
	// maxDataSize is the largest Data an update may carry here.
	maxDataSize = 256 << 20
)

// format marks a Herald history file and its layout version.
const (
	formatPrefix  = "herald-history/"
	formatVersion = "1"
)

var (
	bucketMeta    = []byte("meta")
	bucketUpdates = []byte("updates")
	bucketIDs     = []byte("ids")

	keyFormat   = []byte("format")
	keyInstance = []byte("instance")
	keyLast     = []byte("last")
	keyCount    = []byte("count")
	keyBytes    = []byte("bytes")
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Retention bounds the history (see herald.Retention: a zero field means
	// no bound of that kind; the zero Retention keeps everything). MaxBytes
	// counts each update's key and record as stored.
	Retention herald.Retention
	// LockTimeout is how long Open waits for another process holding the
	// file; zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// MaxBatch is the most updates written to the log at once (one write,
	// one sync); zero means DefaultMaxBatch.
	MaxBatch int
	// Logger receives what the store logs: opening and recovering the
	// history (info), and failures to write its files (error). Nil means
	// slog.Default().
	Logger *slog.Logger

	trimBatch int   // tests only; zero means defaultTrimBatch
	walLimit  int64 // tests only; zero means walLimit
	holdApply bool  // tests only: herald.db gets nothing after Open
	// afterCommit, tests only, runs between an applier transaction's
	// commit and the tail's dropping what it wrote.
	afterCommit func()
}

// Store is the embedded durable herald.Store. It is safe for concurrent use.
type Store struct {
	db       *bbolt.DB
	path     string
	instance string
	ret      herald.Retention
	maxBatch int
	trim     int
	walLimit int64
	log      *slog.Logger
	feed     *feed.Feed

	reqs chan *request
	quit chan struct{}
	wg   sync.WaitGroup // the committer

	gate gate.Gate // Appends in flight, until Close

	tail *tail // acknowledged, maybe not yet in herald.db
	// moved makes an applier transaction's commit and the tail's dropping
	// what it wrote one step for the readers that look at both (Replay's
	// start, Last): otherwise, between the two, an update that retention
	// removed in that transaction is gone from herald.db but still in the
	// tail, and a reader could see it removed and then held again.
	moved sync.RWMutex

	// Owned by the committer goroutine after Open.
	wal      *wal
	last     uint64    // the last Seq assigned
	lastTime time.Time // Times never go back

	// Owned by the applier goroutine after Open.
	kickc       chan struct{}
	applyQuit   chan struct{}
	applyWG     sync.WaitGroup // the applier
	holdApply   bool           // Options.holdApply
	afterCommit func()         // Options.afterCommit
	applyNow    atomic.Bool    // the committer waits for the applier
	applied     uint64         // the last Seq in herald.db
	count       int64          // updates held in herald.db
	bytes       int64          // key+record bytes held in herald.db
	oldest      time.Time      // Time of the oldest update held (zero: none)
	trimPending bool           // retention has work left

	errMu    sync.Mutex
	walErr   error // sticky: the log could not be written
	applyErr error // the applier's last attempt failed

	commits, committed, applies atomic.Int64 // log writes, updates in them; herald.db transactions
}

var (
	_ herald.Store         = (*Store)(nil)
	_ herald.HealthChecker = (*Store)(nil)
)

// Open opens the history in dir (created if needed) and starts its
// committer. A new file is created under a temporary name and linked into
// place only once initialised, so a crash during creation never leaves a
// half-made herald.db. An existing file is first checked read-only; it is
// refused, unmodified, when it is not a Herald history file (the error wraps
// herald.ErrInvalid), and when another process holds it for longer than
// LockTimeout (the error wraps herald.ErrUnavailable).
func Open(dir string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.trimBatch <= 0 {
		opts.trimBatch = defaultTrimBatch
	}
	if opts.walLimit <= 0 {
		opts.walLimit = walLimit
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bolt: open: %w", err)
	}
	path := filepath.Join(dir, FileName)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Lstat(filepath.Join(dir, WALName)); err == nil {
			return nil, fmt.Errorf("bolt: open %s: %s is missing but its write-ahead log %s is there; refusing to start a new history beside it (restore %s, or move %s away to start afresh): %w",
				dir, FileName, WALName, FileName, WALName, herald.ErrInvalid)
		}
		if err := create(dir, path, opts.LockTimeout); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("bolt: open: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("bolt: open %s: not a regular file: %w", path, herald.ErrInvalid)
	case fi.Size() == 0:
		return nil, fmt.Errorf("bolt: open %s: empty file, not a Herald history file; refusing to modify it: %w", path, herald.ErrInvalid)
	}
	if err := check(path, opts.LockTimeout); err != nil {
		return nil, err
	}

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bbolt.FreelistMapType,
	})
	if err != nil {
		return nil, openError(path, err)
	}
	s := &Store{
		db:          db,
		path:        path,
		ret:         opts.Retention,
		maxBatch:    opts.MaxBatch,
		trim:        opts.trimBatch,
		walLimit:    opts.walLimit,
		log:         opts.Logger,
		feed:        feed.New(),
		reqs:        make(chan *request, opts.MaxBatch),
		quit:        make(chan struct{}),
		tail:        newTail(),
		kickc:       make(chan struct{}, 1),
		applyQuit:   make(chan struct{}),
		trimPending: true, // apply the (maybe new) retention at once
	}
	err = db.View(func(tx *bbolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		s.instance, s.applied, s.count, s.bytes = m.instance, m.last, int64(m.count), int64(m.bytes)
		if _, v := tx.Bucket(bucketUpdates).Cursor().First(); v != nil {
			if s.oldest, _, err = recordHead(v); err != nil {
				return err
			}
		}
		if _, v := tx.Bucket(bucketUpdates).Cursor().Last(); v != nil {
			if s.lastTime, _, err = recordHead(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %v; refusing to modify it: %w", path, err, herald.ErrInvalid)
	}
	if err := s.recover(dir); err != nil {
		db.Close()
		return nil, err
	}
	s.last = s.applied
	s.log.Info("bolt: opened the history", "path", path, "instance", s.instance, "updates", s.count, "last", s.applied)
	s.holdApply, s.afterCommit = opts.holdApply, opts.afterCommit
	s.wg.Add(1)
	go s.run()
	s.applyWG.Add(1)
	go s.apply()
	return s, nil
}

// recover opens the write-ahead log and moves into herald.db the updates
// it holds that herald.db does not (those acknowledged before a crash),
// then empties it.
func (s *Store) recover(dir string) (err error) {
	w, frames, err := openWAL(dir, s.instance, s.walLimit)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	var es []entry
	for _, f := range frames {
		if f.seq <= s.applied {
			continue // herald.db has it
		}
		if len(es) == 0 && f.seq != s.applied+1 {
			return fmt.Errorf("bolt: open %s: the write-ahead log continues at update %d but %s ends at %d; refusing to modify them: %w", w.path, f.seq, FileName, s.applied, herald.ErrInvalid)
		}
		u, err := decodeRecord(f.rec, f.seq, s.instance)
		if err != nil {
			return fmt.Errorf("bolt: open %s: update %d: %v; refusing to modify it: %w", w.path, f.seq, err, herald.ErrInvalid)
		}
		_, custom, _ := recordHead(f.rec)
		es = append(es, entry{u: u, rec: f.rec, custom: custom != nil})
		if u.Time.After(s.lastTime) {
			s.lastTime = u.Time
		}
	}
	if len(es) > 0 {
		s.tail.push(es)
		for s.applyOnce() {
		}
		if err := s.applyError(); err != nil {
			return fmt.Errorf("bolt: open %s: moving %d updates from the write-ahead log: %w", s.path, len(es), err)
		}
		s.log.Info("bolt: recovered updates from the write-ahead log", "path", w.path, "updates", len(es), "last", s.applied)
	}
	// Start a new generation even when the log held nothing: what follows
	// its valid frames (a torn write, a failed one) can then never be
	// mistaken for frames of the next writes.
	if err := w.reset(); err != nil {
		return fmt.Errorf("bolt: open: %w", err)
	}
	s.wal = w
	return nil
}

// create makes a new, initialised history file at path, atomically.
func create(dir, path string, lockTimeout time.Duration) error {
	f, err := os.CreateTemp(dir, FileName+".new-*")
	if err != nil {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: lockTimeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketUpdates, bucketIDs} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		for k, v := range map[string][]byte{
			string(keyFormat):   []byte(formatPrefix + formatVersion),
			string(keyInstance): []byte(newInstance()),
			string(keyLast):     be(0),
			string(keyCount):    be(0),
			string(keyBytes):    be(0),
		} {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	return linkIntoPlace(tmp, path)
}

// linkIntoPlace gives the initialised file tmp its final name, path, and
// makes the new name durable. Link, unlike rename, never replaces a file
// another process created meanwhile; that one is then checked like any
// existing file.
func linkIntoPlace(tmp, path string) error {
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil {
		return fmt.Errorf("bolt: create %s: sync directory: %w", path, err)
	}
	return nil
}

// check opens path read-only (which never writes to it) and verifies that it
// is a complete, consistent Herald history file.
func check(path string, lockTimeout time.Duration) (err error) {
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return openError(path, err)
	}
	defer db.Close()
	// A damaged file can point bbolt outside the mapping: turn the fault, or
	// a bbolt panic on a bad page, into an error.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bolt: open %s: damaged file (%v); refusing to modify it: %w", path, r, herald.ErrInvalid)
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("bolt: open: %w", err)
	}
	return db.View(func(tx *bbolt.Tx) error {
		if fi.Size() < tx.Size() {
			return fmt.Errorf("bolt: open %s: truncated file (%d bytes, its pages need %d); refusing to modify it: %w", path, fi.Size(), tx.Size(), herald.ErrInvalid)
		}
		if _, err := readMeta(tx); err != nil {
			return fmt.Errorf("bolt: open %s: %v; refusing to modify it: %w", path, err, herald.ErrInvalid)
		}
		// bbolt's consistency check walks every page without decoding
		// values (about 0.1 ms per thousand updates when cached), so that
		// damage is found now rather than by a panic mid-replay.
		var problems []string
		for err := range tx.Check() {
			if len(problems) < 3 {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("bolt: open %s: damaged file (%s); refusing to modify it: %w", path, strings.Join(problems, "; "), herald.ErrInvalid)
		}
		return nil
	})
}

// openError explains an error from bbolt.Open.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, bbolterrors.ErrTimeout):
		return fmt.Errorf("bolt: open %s: locked by another process (is another herald running on this data directory?): %w", path, herald.ErrUnavailable)
	case errors.Is(err, bbolterrors.ErrInvalid), errors.Is(err, bbolterrors.ErrChecksum), errors.Is(err, bbolterrors.ErrVersionMismatch),
		strings.Contains(err.Error(), "file size too small"):
		return fmt.Errorf("bolt: open %s: not a bbolt database or damaged (%v); refusing to modify it: %w", path, err, herald.ErrInvalid)
	}
	return fmt.Errorf("bolt: open %s: %w", path, err)
}

// meta is the meta bucket's content.
type meta struct {
	instance           string
	last, count, bytes uint64
}

// readMeta reads and validates the meta bucket. Its errors say what is
// wrong; callers wrap them with the path and herald.ErrInvalid.
func readMeta(tx *bbolt.Tx) (meta, error) {
	var m meta
	mb := tx.Bucket(bucketMeta)
	if mb == nil {
		return m, errors.New("not a Herald history file (no meta bucket)")
	}
	format := string(mb.Get(keyFormat))
	version, ok := strings.CutPrefix(format, formatPrefix)
	if !ok {
		return m, errors.New("not a Herald history file (no format marker in its meta bucket)")
	}
	if version != formatVersion {
		return m, fmt.Errorf("history format version %q, this build reads version %s", version, formatVersion)
	}
	m.instance = string(mb.Get(keyInstance))
	last, lok := unbe(mb.Get(keyLast))
	count, cok := unbe(mb.Get(keyCount))
	bytes, bok := unbe(mb.Get(keyBytes))
	updates, ids := tx.Bucket(bucketUpdates), tx.Bucket(bucketIDs)
	switch {
	case m.instance == "" || strings.ContainsRune(m.instance, ':'):
		return m, fmt.Errorf("damaged Herald history file (bad instance id %q)", m.instance)
	case !lok || !cok || !bok:
		return m, errors.New("damaged Herald history file (bad counters in its meta bucket)")
	case updates == nil || ids == nil:
		return m, errors.New("damaged Herald history file (missing buckets)")
	}
	if k, _ := updates.Cursor().Last(); k != nil {
		if seq, ok := unbe(k); !ok || seq > last {
			return m, fmt.Errorf("damaged Herald history file (newest key %x beyond the last Seq %d)", k, last)
		}
	}
	m.last, m.count, m.bytes = last, count, bytes
	return m, nil
}

// newInstance returns a random instance id: 10 lowercase base32 characters
// (50 random bits).
func newInstance() string {
	b := make([]byte, 8)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))[:10]
}

// be returns v as 8 big-endian bytes: the key order of Seqs.
func be(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

// unbe decodes 8 big-endian bytes.
func unbe(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// Instance returns the store's instance id, the one in every id it
// generates. It is made when the file is created and kept across restarts.
func (s *Store) Instance() string { return s.instance }

// Path returns the history file's path.
func (s *Store) Path() string { return s.path }

// Close waits for the Appends in flight (they are committed and reach the
// watchers), stops the committer, ends every Watch and closes the file.
// Calling it again does nothing.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return nil
	}
	close(s.quit)
	s.wg.Wait()
	close(s.applyQuit)
	s.applyWG.Wait()
	s.feed.Close()
	var errs []error
	if s.wal.failed() {
		s.walWritten(s.wal.heal()) // what a failed write left must not be recovered
	}
	if s.walError() == nil && s.applyError() == nil && s.tail.len() == 0 && s.wal.off > walHeaderSize {
		// herald.db holds everything: the next Open need not read the log.
		errs = append(errs, s.wal.reset())
	}
	errs = append(errs, s.wal.close())
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("bolt: close %s: %w", s.path, err))
	}
	return errors.Join(errs...)
}
