package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald"
)

// Defaults for [Options].
const (
	DefaultHeartbeat     = 15 * time.Second
	DefaultQueueLimit    = 4096
	DefaultWriteTimeout  = 30 * time.Second
	DefaultShutdownRetry = 5 * time.Second
	DefaultMaxReplays    = 8
)

// Options configure a [Hub]. The zero value uses every default.
type Options struct {
	// Heartbeat is how long a stream may stay silent before the hub sends a
	// comment on it. Default DefaultHeartbeat; negative disables heartbeats.
	Heartbeat time.Duration
	// QueueLimit is how many events may wait for one subscriber. A live
	// subscriber that falls further behind is disconnected (it resumes from
	// history when it reconnects). Default DefaultQueueLimit.
	QueueLimit int
	// WriteTimeout bounds each write to a subscriber; a write that takes
	// longer disconnects it. Default DefaultWriteTimeout; negative disables.
	WriteTimeout time.Duration
	// ShutdownRetry is the largest reconnection delay ("retry:") sent to
	// subscribers when the hub shuts down; each gets a random delay up to it,
	// so that a restart does not cause a reconnection storm.
	// Default DefaultShutdownRetry.
	ShutdownRetry time.Duration
	// MaxReplays bounds how many times history is read again for a
	// subscriber whose live queue overflowed while it was being replayed.
	// Default DefaultMaxReplays.
	MaxReplays int
	// NoHijack keeps every stream on its request's goroutine instead of
	// taking over HTTP/1.x connections. It costs memory per subscriber; use
	// it when middleware must see the whole response.
	NoHijack bool
	// Metrics receives counters; nil discards them.
	Metrics Metrics
	// Logger receives the hub's logs; nil uses slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = DefaultQueueLimit
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.WriteTimeout < 0 {
		o.WriteTimeout = 0
	}
	if o.ShutdownRetry <= 0 {
		o.ShutdownRetry = DefaultShutdownRetry
	}
	if o.MaxReplays <= 0 {
		o.MaxReplays = DefaultMaxReplays
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Hub fans updates out to subscribers. Create it with [New]; it is safe for
// concurrent use. A Hub does not own its store: close the hub, then the store.
type Hub struct {
	store   herald.Store
	opts    Options
	metrics Metrics
	log     *slog.Logger
	index   *index

	subscribers atomic.Int64
	closing     atomic.Bool

	gen     uint64 // fan-out generation; fan-out goroutine only
	starts  []*subscriber
	slow    []*subscriber
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
}

// New starts a hub that delivers every update appended to store from now on.
func New(store herald.Store, opts Options) *Hub {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		store:   store,
		opts:    opts,
		metrics: opts.Metrics,
		log:     opts.Logger,
		index:   newIndex(),
		ctx:     ctx,
		cancel:  cancel,
	}
	ready := make(chan struct{})
	h.wg.Add(1)
	go h.watch(ready)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		// A store that breaks the Watch contract (no first, empty batch):
		// go on, but updates appended around now may not be delivered live.
		h.log.Error("the store's Watch did not signal that it is registered within 10s")
	}
	if opts.Heartbeat > 0 {
		h.wg.Add(1)
		go h.sweep()
	}
	return h
}

// Store returns the hub's store.
func (h *Hub) Store() herald.Store { return h.store }

// Closing reports whether the hub is shutting down (CloseStreams was called).
func (h *Hub) Closing() bool { return h.closing.Load() }

// Subscribers returns the number of live subscribers.
func (h *Hub) Subscribers() int { return int(h.subscribers.Load()) }

// Publish validates u, appends it to the store and returns it as stored (with
// its ID). When Publish returns nil the update is stored and will be delivered
// to every matching subscriber.
func (h *Hub) Publish(ctx context.Context, u herald.Update) (herald.Update, error) {
	if h.closing.Load() {
		return herald.Update{}, herald.ErrClosed
	}
	if err := u.Validate(); err != nil {
		return herald.Update{}, err
	}
	stored, err := h.store.Append(ctx, u)
	if err != nil {
		return herald.Update{}, err
	}
	h.metrics.Published(1)
	return stored, nil
}

// watch feeds the fan-out from the store until the hub closes. ready is
// closed once the store has registered the watcher (its first, empty batch),
// so that every update appended after New returns is delivered.
func (h *Hub) watch(ready chan struct{}) {
	defer h.wg.Done()
	once := sync.OnceFunc(func() { close(ready) })
	defer once()
	fanout := func(batch []herald.Update) {
		if len(batch) == 0 {
			once()
			return
		}
		h.fanout(batch)
	}
	backoff := 100 * time.Millisecond
	for h.ctx.Err() == nil {
		err := h.store.Watch(h.ctx, fanout)
		if err == nil || h.ctx.Err() != nil || errors.Is(err, herald.ErrClosed) {
			return
		}
		h.log.Error("watching the store failed; retrying", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-h.ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// fanout queues each update of batch for every subscriber that wants it. It
// runs on the store's Watch goroutine only.
func (h *Hub) fanout(batch []herald.Update) {
	limit := h.opts.QueueLimit
	h.index.mu.RLock()
	for i := range batch {
		u := &batch[i]
		f, err := encode(u)
		if err != nil {
			h.log.Error("skipping an update the store returned invalid", "id", u.ID, "err", err)
			continue
		}
		h.gen++
		gen := h.gen
		h.index.each(u.Topics, func(s *subscriber) {
			if s.gen == gen {
				return
			}
			s.gen = gen
			if !s.allowed(u.Topics, u.Private) {
				return
			}
			start, slow := s.enqueue(f, limit)
			if start {
				h.starts = append(h.starts, s)
			} else if slow {
				h.slow = append(h.slow, s)
			}
		})
	}
	h.index.mu.RUnlock()
	h.starts = startFlushes(h.starts)
	for i, s := range h.slow {
		s.close(ReasonSlow)
		h.slow[i] = nil
	}
	h.slow = h.slow[:0]
}

// sweep sends heartbeats to streams that have been silent for a while.
func (h *Hub) sweep() {
	defer h.wg.Done()
	period := max(h.opts.Heartbeat/4, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var starts []*subscriber
	for {
		select {
		case <-h.ctx.Done():
			return
		case now := <-t.C:
			idle := now.Add(-h.opts.Heartbeat).UnixNano()
			h.index.mu.RLock()
			for s := range h.index.all {
				if s.lastWrite.Load() > idle {
					continue
				}
				if start, _ := s.enqueue(heartbeat, h.opts.QueueLimit); start {
					starts = append(starts, s)
				}
			}
			h.index.mu.RUnlock()
			starts = startFlushes(starts)
		}
	}
}

// startFlushes starts a writer for each subscriber of starts, and returns
// starts emptied for reuse.
func startFlushes(starts []*subscriber) []*subscriber {
	for i, s := range starts {
		go s.flush()
		starts[i] = nil
	}
	return starts[:0]
}

// CloseStreams ends every stream gracefully: each subscriber is sent a random
// reconnection delay of up to Options.ShutdownRetry, then its stream ends, so
// clients reconnect (to this hub once restarted, or to another node) without
// all arriving at once. New subscriptions are refused from now on. It does not
// wait; use Close for that. It suits http.Server.RegisterOnShutdown.
func (h *Hub) CloseStreams() {
	h.closing.Store(true)
	for _, s := range h.index.snapshot() {
		s.shutdown(h.retryFrame())
	}
}

// retryFrame sets a random reconnection delay in (ShutdownRetry/10,
// ShutdownRetry], so that clients of a hub going away come back spread out.
func (h *Hub) retryFrame() *frame {
	limit := h.opts.ShutdownRetry
	d := limit/10 + 1 + rand.N(limit-limit/10)
	return &frame{data: fmt.Appendf(nil, "retry: %d\n\n", max(d.Milliseconds(), 1))}
}

// Close ends every stream (as CloseStreams does), waits until they are
// written or ctx is done, then aborts what is left and stops the hub. It does
// not close the store.
func (h *Hub) Close(ctx context.Context) error {
	h.closeMu.Lock()
	defer h.closeMu.Unlock()
	h.CloseStreams()
	var err error
	done := ctx.Done()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for h.subscribers.Load() > 0 {
		select {
		case <-done:
			// Out of patience: abort what is left; aborted writes fail at once.
			err = ctx.Err()
			for _, s := range h.index.snapshot() {
				s.close(ReasonShutdown)
			}
			done = nil
		case <-tick.C:
		}
	}
	h.cancel()
	h.wg.Wait()
	return err
}
