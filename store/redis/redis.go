// Package redis is a clustered [herald.Store] on one Redis stream: every
// `herald serve` node pointed at the same Redis shares one history and one
// live tail.
//
// # Layout in Redis
//
// For the stream key K (the URL's stream parameter, "herald" by default):
//
//	K        the stream: one entry per update, entry id "<Seq>-0"
//	K:meta   a hash: instance id, last Seq, last Time, bytes held
//	K:ids    a sorted set: publisher-chosen id -> Seq of the entry held with it
//
// Append is one Lua script (EVALSHA), so the id check, Seq assignment, the
// XADD, the id index and retention bookkeeping are atomic and every node
// sees one global order: the script refuses an id K:ids holds
// ([herald.ErrConflict]), increments the Seq counter and adds the entry with
// the explicit stream id "<Seq>-0". Seq therefore maps 1:1 and monotonically
// to the stream id, and Replay after a Seq (a generated id or a position) is
// an XRANGE with the id as its start: O(log n). A publisher-chosen id is
// found through K:ids (ZSCORE, O(1)); Lookup is one script doing both. For Redis Cluster, put the stream name in braces (stream={herald})
// so that the three keys share a hash slot.
//
// # Instance id
//
// The instance id in generated ids (see [herald.FormatID]) lives in K:meta and
// is shared by all nodes. It is created (HSETNX semantics, in a script) when
// missing: if Redis restarts without persistence and loses its data, the
// next node to touch it creates a new instance id, so clients holding ids of
// the lost history are answered with [herald.ErrNotHeld] (a gap) instead of
// being replayed from a wrong position. A new instance starts its Seqs at the
// time in milliseconds times 1000, so Seqs keep increasing across such a
// reset (the hub relies on Seqs to drop what it both replayed and received
// live). Every entry records the instance it
// was appended under, so a watcher notices the reset at the first entry of
// the new instance and resumes from that instance's first entry: nothing
// appended after the reset is lost or delivered twice.
//
// # Live tail
//
// Each Store runs one reader goroutine (XREAD BLOCK from the last entry it
// delivered) and fans its batches out to every Watch call. Appends made by
// this node reach watchers through the same XREAD as everybody else's, so
// there is a single path and a single order.
//
// # Failures
//
// Calls to Redis use short timeouts and no automatic retries (a retried
// Append could store an update twice). When Redis cannot be reached, Append,
// Replay and Last fail at once with an error wrapping [herald.ErrUnavailable]
// and Healthy fails; the reader retries with backoff and resumes after the
// last entry it delivered. If Append's reply is lost (Redis died after
// receiving it), the error wraps ErrUnavailable too although the update may
// have been stored.
//
// # Retention
//
// Count, age and bytes are all enforced exactly, by a script that removes
// the oldest entries (XTRIM MINID) and the index members that pointed only
// at them: a couple of entries per Append (so that a busy stream stays near
// its bounds without ever doing a large trim inside an Append), and a
// background sweep for the rest (age, idle streams). Every node sweeps with
// its own Retention; run all nodes with the same one.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/internal/feed"
	"github.com/herald-sse/herald/store/internal/gate"
	goredis "github.com/redis/go-redis/v9"
)

// Defaults for Redis connections, used unless the URL sets the go-redis
// option of the same name (dial_timeout, read_timeout, write_timeout,
// pool_timeout, max_retries).
const (
	// DefaultStream is the stream key used when the URL has no stream
	// parameter.
	DefaultStream = "herald"
	// DefaultDialTimeout bounds connecting to Redis.
	DefaultDialTimeout = 2 * time.Second
	// DefaultIOTimeout bounds each read and write of a command.
	DefaultIOTimeout = 3 * time.Second
)

// Tuning of the reader and the sweeper.
const (
	// readBlock is how long one XREAD waits for new entries; when it times
	// out the reader checks whether Redis was reset.
	readBlock = 2 * time.Second
	// readCount bounds the entries one XREAD returns (one Watch batch).
	readCount = 512
	// replayChunk is how many entries Replay reads per XRANGE.
	replayChunk = 256
	// trimPerAppend bounds the entries one Append removes for retention.
	trimPerAppend = 2
	// trimPerSweep bounds the entries one sweep script removes.
	trimPerSweep = 1000
	// closeDrain bounds how long Close waits for the reader to deliver the
	// updates this Store appended.
	closeDrain = 10 * time.Second
	// maxBackoff caps the reader's wait between attempts while Redis is down.
	maxBackoff = 2 * time.Second
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Retention bounds the history (all nodes should use the same).
	// MaxBytes counts the lengths of each update's strings plus a fixed
	// overhead (see Size). Zero fields mean no bound of that kind.
	Retention herald.Retention
	// Logger receives warnings about outages and resets. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Store is a herald.Store on a Redis stream. It is safe for concurrent use.
type Store struct {
	rdb  *goredis.Client
	keys []string // stream, meta, ids
	ret  herald.Retention
	log  *slog.Logger
	feed *feed.Feed

	gate     gate.Gate // Appends in flight, until Close
	progress progress  // what this Store appended and what the reader delivered

	stop      context.CancelFunc // stops the reader and the sweeper
	done      sync.WaitGroup
	closeOnce sync.Once
}

var _ herald.Store = (*Store)(nil)
var _ herald.HealthChecker = (*Store)(nil)

// Open connects to the Redis named by rawURL
// (redis://[user:password@]host:port/db?stream=herald, or rediss:// for TLS;
// go-redis options such as dial_timeout may be added to the query), makes
// sure the store has an instance id, and starts following the stream. It
// fails with an error wrapping herald.ErrUnavailable when Redis cannot be
// reached and herald.ErrInvalid when the URL is wrong.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	ropts, stream, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Store{
		rdb:  goredis.NewClient(ropts),
		keys: []string{stream, stream + ":meta", stream + ":ids"},
		ret:  opts.Retention,
		log:  log.With("store", "redis", "stream", stream),
		feed: feed.New(),
	}
	s.progress.init()
	inst, err := s.ensureInstance(ctx)
	if err != nil {
		_ = s.rdb.Close()
		return nil, err
	}
	pos, err := s.lastEntryID(ctx)
	if err != nil {
		_ = s.rdb.Close()
		return nil, err
	}
	rctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.done.Add(1)
	go s.read(rctx, inst, pos)
	if s.ret != (herald.Retention{}) {
		s.done.Add(1)
		go s.sweep(rctx)
	}
	return s, nil
}

// parseURL splits the store's own parameters off rawURL and hands the rest
// to go-redis, with Herald's defaults for the options the URL leaves out.
func parseURL(rawURL string) (*goredis.Options, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("redis: store URL: %w: %v", herald.ErrInvalid, err)
	}
	q := u.Query()
	stream := q.Get("stream")
	if stream == "" {
		stream = DefaultStream
	}
	q.Del("stream")
	set := func(k string) bool { return q.Has(k) }
	hasRetries, hasDial, hasRead, hasWrite, hasPool := set("max_retries"), set("dial_timeout"), set("read_timeout"), set("write_timeout"), set("pool_timeout")
	u.RawQuery = q.Encode()
	o, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("redis: store URL: %w: %v", herald.ErrInvalid, err)
	}
	if !hasRetries {
		o.MaxRetries = -1 // a retried Append could be stored twice
	}
	if !hasDial {
		o.DialTimeout = DefaultDialTimeout
	}
	o.DialerRetries = 1 // fail fast; the reader retries with its own backoff
	if !hasRead {
		o.ReadTimeout = DefaultIOTimeout
	}
	if !hasWrite {
		o.WriteTimeout = DefaultIOTimeout
	}
	if !hasPool {
		o.PoolTimeout = DefaultIOTimeout
	}
	o.ContextTimeoutEnabled = true
	if o.ClientName == "" {
		o.ClientName = "herald"
	}
	return o, stream, nil
}

// Stream returns the key of the Redis stream that holds the history.
func (s *Store) Stream() string { return s.keys[0] }

// Instance returns the instance id currently in Redis (it changes when Redis
// loses its data).
func (s *Store) Instance(ctx context.Context) (string, error) {
	return s.ensureInstance(ctx)
}

// ensureInstance returns the instance id, creating one when Redis has none.
func (s *Store) ensureInstance(ctx context.Context) (string, error) {
	inst, err := initScript.Run(ctx, s.rdb, s.keys[:2], randomInstance()).Text()
	if err != nil {
		return "", s.fail("read the instance id", err)
	}
	return inst, nil
}

// lastEntryID returns the stream id of the newest entry, or "0-0".
func (s *Store) lastEntryID(ctx context.Context) (string, error) {
	ms, err := s.rdb.XRevRangeN(ctx, s.keys[0], "+", "-", 1).Result()
	if err != nil {
		return "", s.fail("read the newest entry", err)
	}
	if len(ms) == 0 {
		return "0-0", nil
	}
	return ms[0].ID, nil
}

// randomInstance returns 10 lowercase base32 characters (50 random bits).
func randomInstance() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:10]
}

// Healthy reports whether Redis answers, with an error wrapping
// herald.ErrUnavailable when it does not.
func (s *Store) Healthy(ctx context.Context) error {
	if s.isClosed() {
		return fmt.Errorf("redis: %w", herald.ErrClosed)
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

func (s *Store) isClosed() bool {
	return s.gate.Closed()
}

// Close stops accepting Appends, waits for those in flight, lets the reader
// deliver them to the watchers (for up to 10 s when Redis is down), then
// ends every Watch and disconnects. Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.gate.Close()
		if !s.progress.waitDelivered(closeDrain) {
			s.log.Warn("closing before the updates appended here were read back from Redis; watchers miss them")
		}
		s.stop()
		_ = s.rdb.Close() // also ends a blocked XREAD
		s.done.Wait()
		s.feed.Close()
	})
	return nil
}

// fail wraps err from Redis for operation op: context errors are returned
// as they are, errors of the data (a key of the wrong type, a script error)
// as plain errors, everything else (network, timeouts, a loading or
// read-only server) wraps herald.ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("redis: %s: %w", op, err)
	case errors.Is(err, goredis.ErrClosed):
		return fmt.Errorf("redis: %s: %w", op, herald.ErrClosed)
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		if strings.HasPrefix(msg, "WRONGTYPE") || strings.HasPrefix(msg, "ERR") || strings.HasPrefix(msg, "NOSCRIPT") {
			return fmt.Errorf("redis: %s: %v", op, err)
		}
	}
	return fmt.Errorf("redis: %s: %w: %v", op, herald.ErrUnavailable, err)
}

// progress tracks the newest update this Store appended and the newest the
// reader delivered, so that Close can wait for the one to reach the other.
type progress struct {
	mu        sync.Mutex
	changed   chan struct{} // closed and replaced when delivered moves
	appended  position
	delivered position
}

// position is a Seq within an instance.
type position struct {
	instance string
	seq      uint64
}

func (p *progress) init() { p.changed = make(chan struct{}) }

func (p *progress) appendedAt(pos position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos.instance != p.appended.instance || pos.seq > p.appended.seq {
		p.appended = pos
	}
}

func (p *progress) deliveredAt(pos position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delivered = pos
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitDelivered waits until the reader delivered what this Store appended,
// for at most d. It reports whether it did.
func (p *progress) waitDelivered(d time.Duration) bool {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		p.mu.Lock()
		a, got, ch := p.appended, p.delivered, p.changed
		p.mu.Unlock()
		if a.seq == 0 || (got.instance == a.instance && got.seq >= a.seq) {
			return true
		}
		select {
		case <-ch:
		case <-timeout.C:
			return false
		}
	}
}
