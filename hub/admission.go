package hub

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/httperr"
	"github.com/herald-sse/herald/topic"
)

// Reasons a subscription is refused, as Metrics.Refused reports them.
const (
	RefusedLimit           = "limit"            // Options.MaxSubscribers
	RefusedClientLimit     = "client_limit"     // Options.MaxClientSubscribers
	RefusedClientTemplates = "client_templates" // Options.MaxClientTemplates
	RefusedTemplates       = "templates"        // Options.MaxTemplates
	RefusedReplayBusy      = "replay_busy"      // Options.ConcurrentReplays, after ReplayWait
	RefusedDraining        = "draining"         // the hub is shutting down
)

// How long refused clients are told to wait (Retry-After).
const (
	retryFull   = 10 * time.Second
	retryClient = 5 * time.Second
	retryReplay = 2 * time.Second
)

// admission decides whether a new subscription may have what it asks for,
// and keeps count of what is held by client and of replays in progress.
type admission struct {
	perClient int // subscribers of one client; 0: no bound
	templates int // distinct templates of one client; 0: no bound
	wait      time.Duration

	mu      sync.Mutex
	clients map[string]*clientHold

	replays chan struct{} // one token per replay in progress; nil: no bound
}

// clientHold is what the subscribers of one client address hold.
type clientHold struct {
	subscribers int
	templates   map[string]int // template and URL-pattern keys -> subscribers holding them; nil until one
}

func newAdmission(o Options) *admission {
	a := &admission{perClient: o.MaxClientSubscribers, templates: o.MaxClientTemplates, wait: o.ReplayWait, clients: make(map[string]*clientHold)}
	if o.ConcurrentReplays > 0 {
		a.replays = make(chan struct{}, o.ConcurrentReplays)
	}
	return a
}

// templateKeys returns the keys of the templates and URL patterns of sels,
// once each.
func templateKeys(sels []*topic.Selector) []string {
	var keys []string
	for _, sel := range sels {
		if costly(sel) && !slices.Contains(keys, sel.Key()) {
			keys = append(keys, sel.Key())
		}
	}
	return keys
}

// join counts one more subscriber of client, holding the templates keys,
// unless that takes the client past its share of subscribers or of
// distinct templates; it then returns the reason (RefusedClientLimit or
// RefusedClientTemplates) and counts nothing.
func (a *admission) join(client string, keys []string) (refused string) {
	if client == "" {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[client]
	if c == nil {
		c = &clientHold{}
	}
	if a.perClient > 0 && c.subscribers >= a.perClient {
		return RefusedClientLimit
	}
	if a.templates > 0 && len(keys) > 0 {
		added := 0
		for _, k := range keys {
			if c.templates[k] == 0 {
				added++
			}
		}
		if added > 0 && len(c.templates)+added > a.templates {
			return RefusedClientTemplates
		}
	}
	c.subscribers++
	if a.templates > 0 {
		for _, k := range keys {
			if c.templates == nil {
				c.templates = make(map[string]int)
			}
			c.templates[k]++
		}
	}
	a.clients[client] = c
	return ""
}

// leave counts one subscriber of client less, and lets go of its
// templates keys (as given to join).
func (a *admission) leave(client string, keys []string) {
	if client == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[client]
	if c == nil {
		return
	}
	if a.templates > 0 {
		for _, k := range keys {
			if n := c.templates[k]; n > 1 {
				c.templates[k] = n - 1
			} else {
				delete(c.templates, k)
			}
		}
	}
	if c.subscribers--; c.subscribers <= 0 {
		delete(a.clients, client)
	}
}

// replay takes a replay slot, waiting up to the configured time (or until
// ctx is done), and returns the function that gives it back.
func (a *admission) replay(ctx context.Context) (done func(), ok bool) {
	if a.replays == nil {
		return func() {}, true
	}
	select {
	case a.replays <- struct{}{}:
	default:
		if a.wait <= 0 {
			return nil, false
		}
		t := time.NewTimer(a.wait)
		defer t.Stop()
		select {
		case a.replays <- struct{}{}:
		case <-t.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
	return sync.OnceFunc(func() { <-a.replays }), true
}

// admit reserves what sub needs: a subscriber (within MaxSubscribers), a
// place among its client's subscribers, room for its new templates, and a
// replay slot when it resumes. On success the caller owns the reservation:
// the subscriber is given back by release, the replay slot by calling
// replayDone. On failure nothing is held, and err says what is wrong
// (wrapping herald.ErrOverloaded or herald.ErrTooManyRequests, with a
// Retry-After), and reason is how Metrics.Refused counts it.
func (h *Hub) admit(ctx context.Context, sub *Subscription) (replayDone func(), reason string, err error) {
	if n := h.subscribers.Add(1); h.opts.MaxSubscribers > 0 && n > int64(h.opts.MaxSubscribers) {
		h.subscribers.Add(-1)
		return nil, RefusedLimit, httperr.RetryAfter(fmt.Errorf("%w: the hub serves as many subscribers as it may (%d); try again later",
			herald.ErrOverloaded, h.opts.MaxSubscribers), retryFull)
	}
	keys := templateKeys(sub.Selectors)
	switch h.admission.join(sub.Client, keys) {
	case RefusedClientLimit:
		h.subscribers.Add(-1)
		return nil, RefusedClientLimit, httperr.RetryAfter(fmt.Errorf("%w: your address has as many streams open as one client may (%d); close some first",
			herald.ErrTooManyRequests, h.opts.MaxClientSubscribers), retryClient)
	case RefusedClientTemplates:
		h.subscribers.Add(-1)
		return nil, RefusedClientTemplates, httperr.RetryAfter(fmt.Errorf("%w: the streams of your address hold as many distinct URI-template selectors and URL patterns as one client may (%d); subscribe with exact topics or with the templates or patterns you already use",
			herald.ErrTooManyRequests, h.opts.MaxClientTemplates), retryClient)
	}
	undo := func() {
		h.admission.leave(sub.Client, keys)
		h.subscribers.Add(-1)
	}
	if h.opts.MaxTemplates > 0 {
		if added, total := h.index.newTemplates(sub.Selectors); added > 0 && total+added > h.opts.MaxTemplates {
			undo()
			return nil, RefusedTemplates, httperr.RetryAfter(fmt.Errorf("%w: the hub holds as many distinct URI-template selectors and URL patterns as it may (%d); subscribe with exact topics or with templates or patterns already in use",
				herald.ErrOverloaded, h.opts.MaxTemplates), retryFull)
		}
	}
	replayDone = func() {}
	if sub.Resume {
		var ok bool
		if replayDone, ok = h.admission.replay(ctx); !ok {
			undo()
			return nil, RefusedReplayBusy, httperr.RetryAfter(fmt.Errorf("%w: too many subscribers are catching up on history (%d at once); try again shortly",
				herald.ErrOverloaded, h.opts.ConcurrentReplays), retryReplay)
		}
	}
	return replayDone, "", nil
}

// refused counts a refusal for reason, and logs it at warn level, at most
// once every refusalLogInterval per reason.
func (h *Hub) refused(reason string, err error) {
	h.metrics.Refused(reason)
	v, _ := h.refusedLog.LoadOrStore(reason, new(atomic.Int64))
	last := v.(*atomic.Int64)
	now := time.Now().UnixNano()
	if prev := last.Load(); now-prev >= int64(refusalLogInterval) && last.CompareAndSwap(prev, now) {
		h.log.Warn("refusing subscriptions (see herald_subscribers_refused_total)", "reason", reason, "err", err)
	}
}

// refusalLogInterval is the least time between two warnings about
// refusals for the same reason.
const refusalLogInterval = 10 * time.Second

// Stats is what a hub holds now, against its limits (0: no limit).
type Stats struct {
	Subscribers       int
	MaxSubscribers    int
	QueuedBytes       int64 // bytes of events waiting for subscribers
	QueuedBytesLimit  int64
	Replays           int // subscriptions replaying history
	ConcurrentReplays int
	Templates         int // distinct URI-template selectors and URL patterns
	MaxTemplates      int
	Clients           int // client addresses with a subscriber
}

// Stats returns what the hub holds now.
func (h *Hub) Stats() Stats {
	templates := int(h.index.nEval.Load())
	h.admission.mu.Lock()
	clients := len(h.admission.clients)
	h.admission.mu.Unlock()
	return Stats{
		Subscribers:       int(h.subscribers.Load()),
		MaxSubscribers:    h.opts.MaxSubscribers,
		QueuedBytes:       h.queued.Load(),
		QueuedBytesLimit:  h.opts.QueuedBytes,
		Replays:           len(h.admission.replays),
		ConcurrentReplays: h.opts.ConcurrentReplays,
		Templates:         templates,
		MaxTemplates:      h.opts.MaxTemplates,
		Clients:           clients,
	}
}
