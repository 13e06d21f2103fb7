package hub

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald/topic"
)

// subscriber is one live stream. Its queue is filled by the fan-out (and the
// heartbeat sweeper) and emptied by a writer goroutine that exists only while
// there is something to write. Who may use its sink, and how far it is from
// its end, is its state (see state.go).
type subscriber struct {
	hub        *Hub
	id         string
	client     string // the client address its per-client limit counts under; "" for none
	selectors  []*topic.Selector
	canReceive func(topics []string) bool // private updates; nil: public only
	extra      *subscriberExtra           // what few subscribers have; nil for most
	sink       sink
	hijacked   bool
	// matchedField: each update is sent with a "matched" field naming the
	// selectors that select it (Subscription.MatchedField).
	matchedField bool

	gen uint64 // last fan-out generation that visited it; fan-out goroutine only

	lastWrite atomic.Int64 // unix nanoseconds of the last write

	mu       sync.Mutex
	st       state
	queue    []*frame
	spare    []*frame
	bytes    int    // bytes of update frames in queue
	overflow bool   // the queue overflowed while history was being replayed
	minSeq   uint64 // updates up to this Seq were sent (or precede the stream)
	expiry   *time.Timer
	// stopReplay cancels the replay in progress, if any.
	stopReplay func()
	done       chan struct{} // closed once the stream is released
}

// subscriberExtra holds what only some subscribers have (a token's payload,
// a close hook), so that the many that have none, idle anonymous ones, do
// not pay for it.
type subscriberExtra struct {
	payload  json.RawMessage
	payloads []json.RawMessage // per selector; nil: payload for all
	onClose  func(CloseReason)
}

// enqueue adds f to the queue. start reports that the caller must start a
// writer goroutine (go s.flush()); slow that the subscriber fell too far
// behind and was closed: the caller must then call s.finishClose(false),
// outside the index's lock.
//
// A subscriber falls too far behind when, with frames already waiting, one
// more would exceed its queue's limits in events or bytes, or the hub's
// budget of queued bytes is spent. A subscriber that keeps up (nothing
// waiting) always gets the frame, however large.
func (s *subscriber) enqueue(f *frame) (start, slow bool) {
	h := s.hub
	size := f.size()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.st.accepting() || (f.seq != 0 && f.seq <= s.minSeq) {
		return false, false
	}
	if len(s.queue) > 0 && (len(s.queue) >= h.opts.QueueLimit ||
		s.bytes+size > h.opts.QueueBytes || (size > 0 && h.overBudget())) {
		if s.st.replaying() {
			// History will be read again from where the replay got to.
			s.overflow = true
			s.dropQueueLocked()
			return false, false
		}
		// From now on nothing more is queued, so that the client never
		// receives an update that follows the one dropped here: it resumes
		// from the last one it got, and history fills the gap.
		s.closeLocked(ReasonSlow)
		return false, true
	}
	f.hold(h)
	s.queue = append(s.queue, f)
	s.bytes += size
	return s.st.queued(), false
}

// dropQueueLocked empties the queue, letting go of its frames.
func (s *subscriber) dropQueueLocked() {
	for i, f := range s.queue {
		f.release(s.hub)
		s.queue[i] = nil
	}
	s.queue, s.bytes = s.queue[:0], 0
}

// raiseMin makes sure s is never sent an update whose Seq is seq or less:
// it drops such updates from the queue and from what is queued later.
func (s *subscriber) raiseMin(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.minSeq {
		return
	}
	s.minSeq = seq
	kept := s.queue[:0]
	for _, f := range s.queue {
		if f.seq == 0 || f.seq > seq {
			kept = append(kept, f)
		} else {
			s.bytes -= f.size()
			f.release(s.hub)
		}
	}
	clear(s.queue[len(kept):])
	s.queue = kept
}

// flush writes the queue until it is empty, then exits. It runs only while
// s's state says a writer owns the sink.
func (s *subscriber) flush() {
	h := s.hub
	var batch []*frame
	for {
		s.mu.Lock()
		if batch != nil {
			clear(batch)
			if s.spare == nil && cap(batch) <= 1024 {
				s.spare = batch[:0]
			}
			batch = nil
		}
		if s.st.ended() || len(s.queue) == 0 {
			end, release := s.st.drained()
			if len(s.queue) == 0 {
				s.queue, s.spare = nil, nil // idle subscribers hold no buffers
			}
			s.mu.Unlock()
			if end {
				s.sink.end()
				h.index.remove(s)
			}
			if release {
				s.release()
			}
			return
		}
		batch = s.queue
		s.queue, s.spare, s.bytes = s.spare, nil, 0
		s.mu.Unlock()

		err := s.sink.write(batch)
		n := 0
		for _, f := range batch {
			if f.seq != 0 {
				n++
				f.release(h)
			}
		}
		if err != nil {
			s.close(ReasonWrite)
			continue
		}
		s.lastWrite.Store(time.Now().UnixNano())
		if n > 0 {
			h.metrics.Delivered(n)
		}
	}
}

// close ends the stream now, without writing what is queued. It is safe to
// call from any goroutine, any number of times.
func (s *subscriber) close(reason CloseReason) {
	s.mu.Lock()
	ok, release := s.closeLocked(reason)
	s.mu.Unlock()
	if ok {
		s.finishClose(release)
	}
}

// closeLocked moves s to its closed state and empties its queue. When ok, the
// caller must then call s.finishClose(release) without holding s.mu.
func (s *subscriber) closeLocked(reason CloseReason) (ok, release bool) {
	ok, release = s.st.close(reason)
	if !ok {
		return false, false
	}
	s.dropQueueLocked()
	s.queue, s.spare = nil, nil
	if s.expiry != nil {
		s.expiry.Stop()
	}
	return true, release
}

// finishClose does what closing s takes outside its lock: it stops a replay
// in progress, unregisters s, makes any write fail at once, and releases s
// when no goroutine owns its sink.
func (s *subscriber) finishClose(release bool) {
	s.mu.Lock()
	stopReplay := s.stopReplay
	s.mu.Unlock()
	if stopReplay != nil {
		stopReplay()
	}
	s.hub.index.remove(s)
	s.sink.abort()
	if release {
		s.release()
	}
}

// shutdown ends the stream once its queue is written, after sending retry
// (a reconnection delay, when not nil) so that clients do not all reconnect
// at once.
func (s *subscriber) shutdown(retry *frame) {
	s.mu.Lock()
	if !s.st.accepting() {
		s.mu.Unlock()
		return
	}
	if retry != nil {
		s.queue = append(s.queue, retry)
	}
	start := s.st.end()
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// release runs once, when the stream has ended and no goroutine uses its
// sink.
func (s *subscriber) release() {
	s.mu.Lock()
	reason := s.st.reason
	s.mu.Unlock()
	h := s.hub
	h.admission.leave(s.client, templateKeys(s.selectors))
	h.subscribers.Add(-1)
	h.metrics.SubscriberRemoved(reason)
	close(s.done)
	if s.extra != nil && s.extra.onClose != nil {
		s.extra.onClose(reason)
	}
}

// allowed reports whether s may receive an update about topics: any public
// one, and a private one only when its authorization selects a topic.
func (s *subscriber) allowed(topics []string, private bool) bool {
	return !private || (s.canReceive != nil && s.canReceive(topics))
}

// wants reports whether an update about topics is selected by s and s may
// receive it.
func (s *subscriber) wants(topics []string, private bool) bool {
	if !s.allowed(topics, private) {
		return false
	}
	for _, sel := range s.selectors {
		if sel.IsAll() || matchAny(sel, topics) {
			return true
		}
	}
	return false
}

func matchAny(sel *topic.Selector, topics []string) bool {
	for _, t := range topics {
		if sel.Match(t) {
			return true
		}
	}
	return false
}
