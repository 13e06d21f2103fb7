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
	"github.com/herald-sse/herald/topic"
)

// Defaults for [Options].
const (
	DefaultHeartbeat     = 15 * time.Second
	DefaultQueueLimit    = 4096
	DefaultQueueBytes    = 1 << 20
	DefaultQueuedBytes   = 256 << 20
	DefaultWriteTimeout  = 30 * time.Second
	DefaultShutdownRetry = 5 * time.Second
	DefaultReplayPasses  = 8
	// DefaultMaxClientSubscribers is the default of
	// Options.MaxClientSubscribers: enough for the tabs of many users behind
	// one address (an office's NAT), few enough that one address cannot
	// take a hub's file descriptors.
	DefaultMaxClientSubscribers = 1000
	DefaultMaxTemplates         = 10_000
	// DefaultMaxClientTemplates is the default of
	// Options.MaxClientTemplates: a distinct template for each of an
	// address's DefaultMaxClientSubscribers, a tenth of DefaultMaxTemplates.
	DefaultMaxClientTemplates = 1000
	DefaultConcurrentReplays  = 32
	DefaultReplayWait         = 2 * time.Second
)

// Options configure a [Hub]. The zero value uses every default. Every limit
// bounds something a client can make the hub hold; a client that would
// exceed one is refused at once with a status that says so (429 or 503, with
// Retry-After) and counted in Metrics.Refused, and Hub.Stats reports how much
// of each is in use.
type Options struct {
	// Heartbeat is the longest a stream may stay silent: the hub sends a
	// comment on a stream that has written nothing for that long. Default
	// DefaultHeartbeat; negative disables heartbeats.
	Heartbeat time.Duration
	// QueueLimit is how many events may wait for one subscriber. A live
	// subscriber that falls further behind is disconnected (it resumes from
	// history when it reconnects). Default DefaultQueueLimit.
	QueueLimit int
	// QueueBytes bounds the bytes of the events waiting for one subscriber,
	// as QueueLimit bounds their number. One event larger than that is still
	// sent to a subscriber that has nothing else waiting. Default
	// DefaultQueueBytes; negative: no bound.
	QueueBytes int
	// QueuedBytes bounds the bytes of all the events waiting for
	// subscribers (each counted once, however many queues share it). Past
	// it, a subscriber that has events waiting and gets another is
	// disconnected as too slow, so that those which keep up are not
	// penalised. Default DefaultQueuedBytes; negative: no bound.
	QueuedBytes int64
	// MaxSubscribers bounds the live subscribers. Default: what the
	// process's limit of open files allows (DefaultMaxSubscribers), so that
	// the hub refuses subscribers with a 503 before it runs out of file
	// descriptors for publishers, health checks and metrics. Negative: no
	// bound.
	MaxSubscribers int
	// MaxClientSubscribers bounds the live subscribers of one client
	// address (Subscription.Client); more get a 429. Default
	// DefaultMaxClientSubscribers; negative: no bound.
	MaxClientSubscribers int
	// MaxTemplates bounds the distinct URI-template selectors and URL
	// patterns (draft 08) subscribed to at once: each costs a compiled
	// expression. A subscription that would add one past the bound is
	// refused with a 503. Default DefaultMaxTemplates; negative: no bound.
	MaxTemplates int
	// MaxClientTemplates bounds the distinct URI-template selectors and URL
	// patterns that the subscribers of one client address hold, so that one
	// address cannot take the hub's MaxTemplates from everyone else. A
	// subscription that would add one past the bound is refused with a
	// 429; templates the address already holds, and exact topics, are not
	// counted again. Default DefaultMaxClientTemplates; negative: no bound.
	MaxClientTemplates int
	// ConcurrentReplays bounds the subscriptions replaying history at once;
	// each holds at most a chunk of history in memory. A subscription that
	// resumes when they are all taken waits for one up to ReplayWait, then
	// is refused with a 503. Default DefaultConcurrentReplays; negative: no
	// bound.
	ConcurrentReplays int
	// ReplayWait is how long a resuming subscription waits for a replay
	// slot. Default DefaultReplayWait; negative: it does not wait.
	ReplayWait time.Duration
	// WriteTimeout bounds each write to a subscriber, history included; a
	// write that takes longer disconnects it, so a client that stops reading
	// holds nothing for longer than that. Default DefaultWriteTimeout;
	// negative disables.
	WriteTimeout time.Duration
	// ShutdownRetry is the largest reconnection delay ("retry:") sent to
	// subscribers when the hub shuts down; each gets a random delay up to it,
	// so that a restart does not cause a reconnection storm. Default
	// DefaultShutdownRetry; negative: streams end without one.
	ShutdownRetry time.Duration
	// ReplayPasses bounds how many times history is read again for a
	// subscriber whose live queue overflowed while it was being replayed.
	// Default DefaultReplayPasses.
	ReplayPasses int
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
	o.QueueBytes = orDefault(o.QueueBytes, DefaultQueueBytes, int(^uint(0)>>1))
	o.QueuedBytes = orDefault(o.QueuedBytes, DefaultQueuedBytes, 0)
	o.MaxSubscribers = orDefault(o.MaxSubscribers, DefaultMaxSubscribers(), 0)
	o.MaxClientSubscribers = orDefault(o.MaxClientSubscribers, DefaultMaxClientSubscribers, 0)
	o.MaxTemplates = orDefault(o.MaxTemplates, DefaultMaxTemplates, 0)
	o.MaxClientTemplates = orDefault(o.MaxClientTemplates, DefaultMaxClientTemplates, 0)
	o.ConcurrentReplays = orDefault(o.ConcurrentReplays, DefaultConcurrentReplays, 0)
	o.ReplayWait = orDefault(o.ReplayWait, DefaultReplayWait, 0)
	o.WriteTimeout = orDefault(o.WriteTimeout, DefaultWriteTimeout, 0)
	o.ShutdownRetry = orDefault(o.ShutdownRetry, DefaultShutdownRetry, 0)
	if o.ReplayPasses <= 0 {
		o.ReplayPasses = DefaultReplayPasses
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// orDefault is v, def when v is zero, and none when v is negative.
func orDefault[T int | int64 | time.Duration](v, def, none T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return none
	}
	return v
}

// Hub fans updates out to subscribers. Create it with [New]; it is safe for
// concurrent use. A Hub does not own its store: close the hub, then the store.
type Hub struct {
	store     herald.Store
	opts      Options
	metrics   Metrics
	log       *slog.Logger
	index     *index
	admission *admission

	subscribers atomic.Int64
	queued      atomic.Int64 // bytes of update frames held by queues
	closing     atomic.Bool
	refusedLog  sync.Map // refusal reason -> *atomic.Int64: unix nanoseconds of its last warning

	fanoutMu sync.Mutex // one fan-out at a time: the store's, or Broadcast's
	gen      uint64     // fan-out generation; under fanoutMu
	starts   []*subscriber
	slow     []*subscriber

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex

	beforeLive func() // tests only: called before a stream goes live
}

// New starts a hub that delivers every update appended to store from now on.
func New(store herald.Store, opts Options) *Hub {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		store:     store,
		opts:      opts,
		metrics:   opts.Metrics,
		log:       opts.Logger,
		index:     newIndex(),
		admission: newAdmission(opts),
		ctx:       ctx,
		cancel:    cancel,
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
// takes the index's lock for each update, not for the whole batch, so that
// subscribing and unsubscribing wait for one update at most.
func (h *Hub) fanout(batch []herald.Update) {
	h.fanoutMu.Lock()
	defer h.fanoutMu.Unlock()
	for i := range batch {
		u := &batch[i]
		f, err := encode(u)
		if err != nil {
			h.log.Error("skipping an update the store returned invalid", "id", u.ID, "err", err)
			continue
		}
		h.index.mu.RLock()
		h.deliver(f, u.Topics, u.Private)
		h.index.mu.RUnlock()
	}
	h.afterFanout()
}

// deliver queues f for every subscriber that selects one of topics and may
// receive it. The caller holds fanoutMu and the index's read lock, and calls
// afterFanout once it has released the latter.
func (h *Hub) deliver(f *frame, topics []string, private bool) {
	h.gen++
	gen := h.gen
	h.index.each(topics, func(s *subscriber) {
		if s.gen == gen {
			return
		}
		s.gen = gen
		if !s.allowed(topics, private) {
			return
		}
		start, slow := s.enqueue(s.matchedFrame(f, topics))
		if start {
			h.starts = append(h.starts, s)
		} else if slow {
			h.slow = append(h.slow, s)
		}
	})
}

// afterFanout starts the writers deliver asked for and finishes closing the
// subscribers that fell behind (which takes the index's lock).
func (h *Hub) afterFanout() {
	h.starts = startFlushes(h.starts)
	for i, s := range h.slow {
		s.finishClose(false)
		h.slow[i] = nil
	}
	h.slow = h.slow[:0]
}

// overBudget reports whether queued events hold more bytes than
// Options.QueuedBytes allows.
func (h *Hub) overBudget() bool {
	return h.opts.QueuedBytes > 0 && h.queued.Load() > h.opts.QueuedBytes
}

// sweep sends heartbeats, so that no stream stays silent for longer than
// Options.Heartbeat: every period it sends one to the streams that would
// otherwise be silent for longer than that before its next pass.
func (h *Hub) sweep() {
	defer h.wg.Done()
	period := max(h.opts.Heartbeat/10, 10*time.Millisecond)
	// The slack covers the delay of a pass and of the write it starts.
	slack := min(period/2, 100*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var starts []*subscriber
	for {
		select {
		case <-h.ctx.Done():
			return
		case now := <-t.C:
			due := now.Add(period + slack - h.opts.Heartbeat).UnixNano()
			h.index.mu.RLock()
			for s := range h.index.all {
				if s.lastWrite.Load() > due {
					continue
				}
				if start, _ := s.enqueue(heartbeat); start {
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
// ShutdownRetry], so that clients of a hub going away come back spread out;
// nil when Options.ShutdownRetry is negative.
//
// It is the retry field alone, without the blank line that would end an
// event: by the standard that blank line dispatches nothing, but popular
// clients (@microsoft/fetch-event-source, extended-eventsource, go-sse,
// LaunchDarkly's) hand their application an empty message for it. They all
// apply the field at its line, and drop the unfinished event when the stream
// ends.
func (h *Hub) retryFrame() *frame {
	limit := h.opts.ShutdownRetry
	if limit <= 0 {
		return nil
	}
	d := limit/10 + 1 + rand.N(limit-limit/10)
	return &frame{data: fmt.Appendf(nil, "retry: %d\n", max(d.Milliseconds(), 1))}
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

// Selector compiles s as a topic selector for a Subscription. A live
// subscription to the same string shares its compiled selector, so a popular
// template is compiled once; and what a selector holds is released with the
// last subscriber that uses it (a topic.Cache would keep it, and its match
// results, after its subscribers leave).
func (h *Hub) Selector(s string) (*topic.Selector, error) {
	if sel, ok := h.index.selector(s); ok {
		return sel, nil
	}
	return topic.Compile(s)
}
