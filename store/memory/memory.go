// Package memory is an in-memory [herald.Store]: no durability, for tests,
// benchmarks and `herald serve --store memory:`.
//
// History lives in fixed-size chunks in Seq order (see history). Seqs are
// contiguous, so Replay and Lookup find a generated id or a position by
// arithmetic (O(1)) and a
// publisher-chosen id through a map, which also refuses an id already held
// ([herald.ErrConflict]); both are pruned with retention. Each Store gets a
// random instance id (unless Options.Instance sets one), so ids minted before
// a restart, whose history is gone, are answered with [herald.ErrNotHeld].
package memory

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/internal/feed"
)

// replayChunk is how many updates Replay copies out per lock acquisition.
const replayChunk = 256

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Retention bounds the history; a zero field means no bound of that
	// kind (the zero Retention keeps everything: set a bound, memory is
	// finite). MaxBytes counts the lengths of each update's strings plus a
	// fixed overhead (see Size).
	Retention herald.Retention
	// Instance is the instance id in generated ids (see herald.FormatID).
	// Empty means a random one. It must not contain ':'.
	Instance string
}

// Store is an in-memory herald.Store. It is safe for concurrent use.
type Store struct {
	instance string
	ret      herald.Retention
	feed     *feed.Feed

	mu       sync.Mutex
	q        history           // the history held, Seqs contiguous
	ids      map[string]uint64 // publisher-chosen id -> Seq of the update held with it
	bytes    int64             // sum of Size over q[off:]
	last     uint64            // the last Seq assigned
	lastTime time.Time         // the last Time assigned (Times never go back)
	closed   bool
}

var _ herald.Store = (*Store)(nil)

// New returns an empty Store. It panics if opts.Instance contains ':'.
func New(opts Options) *Store {
	if strings.ContainsRune(opts.Instance, ':') {
		panic(fmt.Sprintf("memory: instance id %q contains ':'", opts.Instance))
	}
	s := &Store{
		instance: opts.Instance,
		ret:      opts.Retention,
		feed:     feed.New(),
		ids:      make(map[string]uint64),
	}
	if s.instance == "" {
		s.instance = randomInstance()
	}
	return s
}

// randomInstance returns 10 lowercase base32 characters (50 random bits).
func randomInstance() string {
	b := make([]byte, 8)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:10]
}

// Instance returns the instance id used in the ids this Store generates.
func (s *Store) Instance() string { return s.instance }

// Size is the size of u as MaxBytes counts it: the lengths of its strings
// plus 64 bytes.
func Size(u *herald.Update) int64 {
	n := 64 + len(u.ID) + len(u.Type) + len(u.Data)
	for _, t := range u.Topics {
		n += 16 + len(t)
	}
	return int64(n)
}

// Append stores u and passes it to the watchers. It never blocks on I/O; a
// context already done when Append is called stores nothing. An update whose
// ID is held is refused with an error wrapping herald.ErrConflict.
func (s *Store) Append(ctx context.Context, u herald.Update) (herald.Update, error) {
	if err := u.Validate(); err != nil {
		return herald.Update{}, fmt.Errorf("memory: append: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	out, err := s.append([]herald.Update{u}, false)
	if err != nil {
		return herald.Update{}, fmt.Errorf("memory: append: %w", err)
	}
	return out[0], nil
}

// AppendBatch implements herald.Store: the batch is stored under one
// acquisition of the lock, and passed to the watchers as one batch.
func (s *Store) AppendBatch(ctx context.Context, us []herald.Update) ([]herald.Update, error) {
	if err := herald.ValidateBatch(us); err != nil {
		return nil, fmt.Errorf("memory: append batch: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, nil
	}
	out, err := s.append(us, true)
	if err != nil {
		return nil, fmt.Errorf("memory: append batch: %w", err)
	}
	return slices.Clone(out), nil // out is shared with the watchers
}

// append stores us (valid, ids distinct) and returns them as stored, or
// refuses them all when one's ID is held (with a *herald.BatchError when
// batch is set).
func (s *Store) append(us []herald.Update, batch bool) ([]herald.Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, herald.ErrClosed
	}
	now := time.Now().Round(0)
	if now.Before(s.lastTime) {
		now = s.lastTime
	}
	s.trimLocked(now) // an id retention removed is free again
	for i := range us {
		if _, held := s.ids[us[i].ID]; held {
			err := fmt.Errorf("id %q is held: %w", us[i].ID, herald.ErrConflict)
			if batch {
				err = &herald.BatchError{Index: i, Err: err}
			}
			return nil, err
		}
	}
	s.lastTime = now
	out := make([]herald.Update, len(us))
	for i, u := range us {
		u.Topics = slices.Clone(u.Topics) // the caller may reuse its slice
		s.last++
		u.Seq, u.Time = s.last, now
		if u.ID == "" {
			u.ID = herald.FormatID(s.instance, u.Seq)
		} else {
			s.ids[u.ID] = u.Seq
		}
		s.q.push(u)
		s.bytes += Size(&u)
		out[i] = u
	}
	s.trimLocked(now)
	s.feed.Publish(out)
	return out, nil
}

// trimLocked removes the oldest updates beyond the retention bounds.
func (s *Store) trimLocked(now time.Time) {
	r := s.ret
	for s.q.len() > 0 {
		u := s.q.at(0)
		if (r.MaxCount <= 0 || s.q.len() <= r.MaxCount) &&
			(r.MaxBytes <= 0 || s.bytes <= r.MaxBytes) &&
			(r.MaxAge <= 0 || now.Sub(u.Time) < r.MaxAge) {
			return
		}
		if u.ID != "" {
			if seq, ok := s.ids[u.ID]; ok && seq == u.Seq {
				delete(s.ids, u.ID)
			}
		}
		s.bytes -= Size(u)
		s.q.pop() // releases its strings
	}
}

// indexLocked returns the index in s.q of the update with seq, if held.
func (s *Store) indexLocked(seq uint64) (int, bool) {
	if s.q.len() == 0 {
		return 0, false
	}
	first := s.q.at(0).Seq
	if seq < first || seq-first >= uint64(s.q.len()) {
		return 0, false
	}
	return int(seq - first), true
}

// Replay implements herald.Store. It copies updates out in chunks so that fn
// runs without the lock held. If retention removes the next update while a
// slow fn is running, Replay returns an error wrapping herald.ErrNotHeld
// instead of skipping it.
func (s *Store) Replay(ctx context.Context, after string, fn func(herald.Update) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	next, upper, err := s.start(after)
	if err != nil {
		return err
	}
	buf := make([]herald.Update, 0, replayChunk)
	for next <= upper {
		buf = buf[:0]
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return fmt.Errorf("memory: replay: %w", herald.ErrClosed)
		}
		i, ok := s.indexLocked(next)
		if !ok {
			s.mu.Unlock()
			return fmt.Errorf("memory: replay after %q: update %d was removed by retention during the replay: %w", after, next, herald.ErrNotHeld)
		}
		for ; i < s.q.len() && len(buf) < replayChunk && s.q.at(i).Seq <= upper; i++ {
			buf = append(buf, *s.q.at(i))
		}
		s.mu.Unlock()
		for _, u := range buf {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(u); err != nil {
				return err
			}
		}
		next = buf[len(buf)-1].Seq + 1
	}
	return nil
}

// start resolves after to the first Seq to replay and the newest Seq held.
// next > upper means there is nothing to replay.
func (s *Store) start(after string) (next, upper uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, fmt.Errorf("memory: replay: %w", herald.ErrClosed)
	}
	s.trimLocked(time.Now())
	if after == herald.EarliestID {
		if s.q.len() == 0 {
			return 1, 0, nil
		}
		return s.q.at(0).Seq, s.q.at(s.q.len() - 1).Seq, nil
	}
	i, ok := s.findLocked(after)
	if !ok {
		return 0, 0, fmt.Errorf("memory: replay after %q: %w", after, herald.ErrNotHeld)
	}
	return s.q.at(i).Seq + 1, s.q.at(s.q.len() - 1).Seq, nil
}

// findLocked returns the index in s.q of the held update id names: its
// publisher-chosen ID, or its generated ID (its position).
func (s *Store) findLocked(id string) (int, bool) {
	seq, ok := s.ids[id]
	if instance, gen, isGen := herald.ParseID(id); isGen {
		seq, ok = gen, instance == s.instance
	}
	if !ok {
		return 0, false
	}
	return s.indexLocked(seq)
}

// Lookup implements herald.Store.
func (s *Store) Lookup(ctx context.Context, id string) (herald.Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return herald.Update{}, fmt.Errorf("memory: lookup: %w", herald.ErrClosed)
	}
	s.trimLocked(time.Now())
	i, ok := s.findLocked(id)
	if !ok {
		return herald.Update{}, fmt.Errorf("memory: lookup %q: %w", id, herald.ErrNotHeld)
	}
	return *s.q.at(i), nil
}

// Watch implements herald.Store: fn is called from the calling goroutine,
// and a slow fn delays only this watcher.
func (s *Store) Watch(ctx context.Context, fn func([]herald.Update)) error {
	return s.feed.Watch(ctx, fn)
}

// Last implements herald.Store: the newest update's position.
func (s *Store) Last(ctx context.Context) (string, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", 0, fmt.Errorf("memory: last: %w", herald.ErrClosed)
	}
	s.trimLocked(time.Now())
	if s.q.len() == 0 {
		return "", 0, nil
	}
	seq := s.q.at(s.q.len() - 1).Seq
	return herald.FormatID(s.instance, seq), seq, nil
}

// Close drops the history and ends every Watch (after it has delivered what
// was appended). Calling it again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.q, s.ids = history{}, nil
	s.feed.Close()
	return nil
}
