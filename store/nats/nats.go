// Package nats is a clustered [herald.Store] on one NATS JetStream stream:
// every `herald serve` node pointed at the same NATS shares one history and
// one live tail.
//
// # Layout in JetStream
//
// One stream (the URL's stream parameter, "herald" by default) with the
// subjects "<prefix>.>", where prefix is the subject parameter (default
// "herald.<stream>"). An update with a generated id is published to
// "<prefix>.g"; one with a publisher-chosen id to "<prefix>.p.<id in
// unpadded base64url>". The message body holds the update (see codec.go);
// the stream sequence is the update's Seq, so the order is JetStream's
// single global order.
//
// An update with a publisher's id is published with the header
// Nats-Expected-Last-Subject-Sequence: 0, so JetStream stores it only if no
// message on its id's subject is held, atomically with storing it: that is
// how an id is held at most once across nodes ([herald.ErrConflict]), and
// once retention removed the message the id is free again.
//
// Replay after a generated id (or a position) checks it against the stream's
// first and last sequence; after a publisher's id, it asks JetStream for the
// last message on that id's subject (the stream's per-subject index, never a
// scan). It then reads with an ordered consumer from the next sequence up to
// the last one held when Replay started. Lookup is one request: the message
// at a sequence, or the last one on an id's subject.
//
// # Instance id
//
// The instance id is derived from the stream's creation time, so a stream
// that was deleted or lost and created again is a new instance: clients
// holding ids of the old one are told they have a gap ([herald.ErrNotHeld]).
// A stream this package creates starts its sequence at a value derived from
// the clock (milliseconds × 1000), so a re-created stream's Seqs are higher
// than the old one's: watchers, which follow the stream with an ordered
// consumer, continue into the new stream without missing its first updates
// and notice the change at the jump of the sequence.
//
// # Durability and failures
//
// Append returns once JetStream has acknowledged the message (stored, on a
// majority of replicas when replicas > 1); the stream uses file storage
// unless storage=memory. The connection has no reconnect buffer: while NATS
// is unreachable, Append fails at once with an error wrapping
// [herald.ErrUnavailable] (never a success for an update that was not
// stored), Healthy fails, and watchers wait; the client reconnects in the
// background and the watchers' ordered consumer resumes after the last
// update it delivered.
//
// # Batches
//
// AppendBatch uses JetStream's atomic batch publish (nats-server 2.12 or
// later; the stream is created, or updated, with allow_atomic): the batch's
// messages go out in one flush, all but the last without a reply, and the
// last commits the batch, which JetStream stores whole, with consecutive
// sequences, or not at all; one round trip. An older server does not keep
// allow_atomic: Open then logs a warning and AppendBatch of more than one
// update fails with an error wrapping errors.ErrUnsupported (Append works).
// JetStream bounds a batch to 1,000 messages (herald.MaxBatchLen) and a
// stream to 50 batches in flight at once: past that, AppendBatch fails with
// herald.ErrUnavailable, to be retried. Cost: on a stream with one replica
// and file storage, JetStream stages each batch in a file store of its own,
// made, synced and removed per batch, which dominates (measured with the
// embedded server on 2 loaded cores, batches of 100 from 16 callers: about
// 5,000 updates/s, against 16,000/s for single Appends); replicated streams
// and memory storage stage batches in memory (storage=memory: about
// 45,000 updates/s).
//
// # Retention
//
// By the stream's limits (MaxMsgs, MaxAge, MaxBytes), which JetStream
// enforces itself. Open updates the limits of an existing stream to the
// node's Retention: run all nodes with the same one. MaxBytes counts what
// JetStream counts (subject, headers and body of each message).
package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/internal/feed"
	"github.com/herald-sse/herald/store/internal/gate"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults used when the URL does not say otherwise.
const (
	// DefaultStream is the stream name used when the URL has no stream
	// parameter.
	DefaultStream = "herald"
	// DefaultDialTimeout bounds connecting to a NATS server.
	DefaultDialTimeout = 2 * time.Second
	// DefaultTimeout bounds each JetStream request (publish, stream info,
	// message get) whose context has no earlier deadline; the URL parameter
	// timeout overrides it.
	DefaultTimeout = 3 * time.Second
)

// Tuning.
const (
	// replayChunk bounds the messages a replay's consumer buffers.
	replayChunk = 256
	// replayStall is how long a replay waits for its next message before
	// checking whether retention removed it.
	replayStall = 500 * time.Millisecond
	// watchBuffer bounds the messages the watch consumer buffers.
	watchBuffer = 512
	// consumerInactive is how long JetStream keeps a consumer whose client
	// went away.
	consumerInactive = 30 * time.Second
	// closeDrain bounds how long Close waits for the watch consumer to
	// deliver the updates this Store appended.
	closeDrain = 10 * time.Second
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Retention sets the stream's limits (all nodes should use the same).
	// Zero fields mean no limit of that kind.
	Retention herald.Retention
	// Logger receives warnings about outages and resets. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Store is a herald.Store on a JetStream stream. It is safe for concurrent
// use.
type Store struct {
	nc      *natsgo.Conn
	js      jetstream.JetStream
	name    string // stream name
	prefix  string // subject prefix
	cfg     jetstream.StreamConfig
	timeout time.Duration
	log     *slog.Logger
	feed    *feed.Feed

	stream jetstream.Stream
	state  atomic.Pointer[streamState] // the stream's instance, as last seen
	stale  atomic.Bool                 // the connection was lost: re-read state before trusting it

	gate     gate.Gate // Appends in flight, until Close
	progress progress

	watch     jetstream.MessagesContext
	done      sync.WaitGroup
	closeOnce sync.Once
}

// streamState is what identifies one incarnation of the stream.
type streamState struct {
	instance string
	created  time.Time
	atomic   bool // the stream takes atomic batches (AllowAtomicPublish)
}

var _ herald.Store = (*Store)(nil)
var _ herald.HealthChecker = (*Store)(nil)

// Open connects to the NATS servers named by rawURL
// (nats://[user:password@]host:4222[,nats://host2:4222]?stream=herald, or
// tls://), creates the stream or binds to it (updating its limits to
// opts.Retention), and starts following it. Query parameters: stream (the
// stream name), subject (the subject prefix, default "herald.<stream>"),
// replicas (default 1), storage (file, the default, or memory), timeout
// (a Go duration, default 3s). It fails with an error wrapping
// herald.ErrUnavailable when NATS cannot be reached and herald.ErrInvalid
// when the URL is wrong.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	servers, q, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Store{
		name:    q.stream,
		prefix:  q.subject,
		timeout: q.timeout,
		log:     log.With("store", "nats", "stream", q.stream),
		feed:    feed.New(),
	}
	s.progress.init()
	s.cfg = jetstream.StreamConfig{
		Name:        q.stream,
		Description: "Herald history (github.com/herald-sse/herald)",
		Subjects:    []string{q.subject + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     q.storage,
		Replicas:    q.replicas,
		// AppendBatch publishes batches atomically (nats-server 2.12+;
		// an older server ignores the field, see batch.go).
		AllowAtomicPublish: true,
	}
	setLimits(&s.cfg, opts.Retention)

	s.nc, err = natsgo.Connect(servers,
		natsgo.Name("herald"),
		natsgo.Timeout(DefaultDialTimeout),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250*time.Millisecond),
		natsgo.ReconnectJitter(100*time.Millisecond, time.Second),
		natsgo.ReconnectBufSize(-1), // fail fast while disconnected
		natsgo.PingInterval(5*time.Second),
		natsgo.MaxPingsOutstanding(2),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			s.stale.Store(true)
			if !s.isClosed() {
				s.log.Warn("lost the connection to NATS; publishes fail until it is back", "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			s.stale.Store(true)
			s.log.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w: %v", herald.ErrUnavailable, err)
	}
	s.js, err = jetstream.New(s.nc, jetstream.WithDefaultTimeout(s.timeout))
	if err != nil {
		s.nc.Close()
		return nil, fmt.Errorf("nats: %v", err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if err := s.bind(ctx); err != nil {
		s.nc.Close()
		return nil, err
	}
	info := s.stream.CachedInfo()
	if err := s.startWatch(ctx, info.State.LastSeq+1); err != nil {
		s.nc.Close()
		return nil, err
	}
	return s, nil
}

// urlOptions are the store's own URL parameters.
type urlOptions struct {
	stream, subject string
	replicas        int
	storage         jetstream.StorageType
	timeout         time.Duration
}

// parseURL splits rawURL into the server list for nats.Connect and the
// store's parameters.
func parseURL(rawURL string) (string, urlOptions, error) {
	o := urlOptions{stream: DefaultStream, replicas: 1, storage: jetstream.FileStorage, timeout: DefaultTimeout}
	bad := func(format string, args ...any) (string, urlOptions, error) {
		return "", o, fmt.Errorf("nats: store URL %q: %w: %s", rawURL, herald.ErrInvalid, fmt.Sprintf(format, args...))
	}
	servers, query, _ := strings.Cut(rawURL, "?")
	for _, srv := range strings.Split(servers, ",") {
		u, err := url.Parse(strings.TrimSpace(srv))
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return bad("want nats://host:port (several separated by commas)")
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return bad("%v", err)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "stream":
			if v == "" {
				continue
			}
			if strings.ContainsAny(v, ".*> \t\r\n/\\") {
				return bad("stream %q is not a valid JetStream stream name", v)
			}
			o.stream = v
		case "subject":
			if v == "" || strings.ContainsAny(v, "*> \t\r\n") || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
				return bad("subject %q is not a valid subject prefix", v)
			}
			o.subject = v
		case "replicas":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 5 {
				return bad("replicas %q: want 1 to 5", v)
			}
			o.replicas = n
		case "storage":
			switch v {
			case "file":
				o.storage = jetstream.FileStorage
			case "memory":
				o.storage = jetstream.MemoryStorage
			default:
				return bad("storage %q: want file or memory", v)
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return bad("timeout %q: want a positive Go duration such as 3s", v)
			}
			o.timeout = d
		default:
			return bad("unknown parameter %q (known: stream, subject, replicas, storage, timeout)", k)
		}
	}
	if o.subject == "" {
		o.subject = "herald." + o.stream
	}
	return servers, o, nil
}

// setLimits copies r into the stream's limits.
func setLimits(cfg *jetstream.StreamConfig, r herald.Retention) {
	cfg.MaxMsgs, cfg.MaxBytes, cfg.MaxAge = -1, -1, r.MaxAge
	if r.MaxCount > 0 {
		cfg.MaxMsgs = int64(r.MaxCount)
	}
	if r.MaxBytes > 0 {
		cfg.MaxBytes = r.MaxBytes
	}
}

// opContext bounds ctx by the Store's timeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Stream returns the name of the JetStream stream that holds the history.
func (s *Store) Stream() string { return s.name }

// Instance returns the instance id of the stream as last seen.
func (s *Store) Instance() string { return s.state.Load().instance }

// Healthy reports whether NATS is connected and the stream answers, with an
// error wrapping herald.ErrUnavailable when not. It re-creates the stream
// when the server lost it, so that a wiped server is usable again without
// waiting for a publish.
func (s *Store) Healthy(ctx context.Context) error {
	if s.isClosed() {
		return fmt.Errorf("nats: %w", herald.ErrClosed)
	}
	if st := s.nc.Status(); st != natsgo.CONNECTED {
		return fmt.Errorf("nats: %w: connection is %s", herald.ErrUnavailable, st)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := s.refresh(ctx) // re-creates a stream the server lost
	return err
}

func (s *Store) isClosed() bool {
	return s.gate.Closed()
}

// Close stops accepting Appends, waits for those in flight, lets the watch
// consumer deliver them (for up to 10 s when NATS is down), then ends every
// Watch and disconnects. Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.gate.Close()
		if !s.progress.waitDelivered(closeDrain) {
			s.log.Warn("closing before the updates appended here were read back from NATS; watchers miss them")
		}
		s.watch.Stop()
		s.done.Wait()
		s.feed.Close()
		s.nc.Close()
	})
	return nil
}

// fail wraps err from NATS for operation op: context errors as they are,
// a message over the server's size limit as herald.ErrTooLarge, JetStream's
// refusals of a request as plain errors, and everything else (no
// connection, no answer, JetStream unavailable) wrapping
// herald.ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, natsgo.ErrTimeout):
		return fmt.Errorf("nats: %s: %w", op, err)
	case errors.Is(err, natsgo.ErrMaxPayload):
		return fmt.Errorf("nats: %s: %w: %v", op, herald.ErrTooLarge, err)
	case errors.Is(err, natsgo.ErrConnectionClosed) && s.isClosed():
		return fmt.Errorf("nats: %s: %w", op, herald.ErrClosed)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code >= 400 && apiErr.Code < 500 && apiErr.Code != 404 && apiErr.Code != 408 {
		return fmt.Errorf("nats: %s: %v", op, err)
	}
	return fmt.Errorf("nats: %s: %w: %v", op, herald.ErrUnavailable, err)
}

// progress tracks the newest update this Store appended and the newest the
// watch consumer delivered, so that Close can wait for the one to reach the
// other.
type progress struct {
	mu        sync.Mutex
	changed   chan struct{} // closed and replaced when delivered moves
	appended  uint64
	delivered uint64
}

func (p *progress) init() { p.changed = make(chan struct{}) }

func (p *progress) appendedAt(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.appended = max(p.appended, seq)
}

func (p *progress) deliveredAt(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delivered = seq
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitDelivered waits until the watch consumer delivered what this Store
// appended, for at most d. It reports whether it did.
func (p *progress) waitDelivered(d time.Duration) bool {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		p.mu.Lock()
		a, got, ch := p.appended, p.delivered, p.changed
		p.mu.Unlock()
		if got >= a {
			return true
		}
		select {
		case <-ch:
		case <-timeout.C:
			return false
		}
	}
}
