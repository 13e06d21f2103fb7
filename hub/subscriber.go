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
// there is something to write.
type subscriber struct {
	hub        *Hub
	id         string
	selectors  []*topic.Selector
	canReceive func(topics []string) bool // private updates; nil: public only
	payload    json.RawMessage
	onClose    func(CloseReason)
	sink       sink
	hijacked   bool

	gen uint64 // last fan-out generation that visited it; fan-out goroutine only

	lastWrite atomic.Int64 // unix nanoseconds of the last write

	mu        sync.Mutex
	queue     []*frame
	spare     []*frame
	flushing  bool   // a writer goroutine owns the sink
	replaying bool   // the request goroutine owns the sink (headers, history)
	overflow  bool   // the queue overflowed while replaying
	minSeq    uint64 // updates up to this Seq were sent (or precede the stream)
	ending    bool   // shutdown: end the stream once the queue is written
	slow      bool   // overflowed: queue nothing more; the stream is being closed
	closed    bool
	reason    CloseReason
	released  bool
	expiry    *time.Timer
	// stopReplay cancels the replay in progress, if any.
	stopReplay func()
	done       chan struct{} // closed once the sink is no longer used
}

// enqueue adds f to the queue. start reports that the caller must start a
// writer goroutine (go s.flush()); slow that the subscriber overflowed its
// queue and must be closed.
func (s *subscriber) enqueue(f *frame, limit int) (start, slow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ending || s.slow || (f.seq != 0 && f.seq <= s.minSeq) {
		return false, false
	}
	if len(s.queue) >= limit {
		if s.replaying {
			// History will be read again from where the replay got to.
			s.overflow = true
			clear(s.queue)
			s.queue = s.queue[:0]
			return false, false
		}
		// From now on nothing more is queued, so that the client never
		// receives an update that follows the one dropped here: it resumes
		// from the last one it got, and history fills the gap.
		s.slow = true
		return false, true
	}
	s.queue = append(s.queue, f)
	if s.flushing || s.replaying {
		return false, false
	}
	s.flushing = true
	return true, false
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
		}
	}
	clear(s.queue[len(kept):])
	s.queue = kept
}

// flush writes the queue until it is empty, then exits. At most one flush runs
// at a time (guarded by s.flushing).
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
		if s.closed || len(s.queue) == 0 {
			s.flushing = false
			ending := s.ending && !s.closed
			if ending {
				s.closed, s.reason = true, ReasonShutdown
			}
			closed := s.closed
			if len(s.queue) == 0 {
				s.queue, s.spare = nil, nil // idle subscribers hold no buffers
			}
			s.mu.Unlock()
			if ending {
				s.sink.end()
				h.index.remove(s)
			}
			if closed {
				s.release()
			}
			return
		}
		batch = s.queue
		s.queue, s.spare = s.spare, nil
		s.mu.Unlock()

		err := s.sink.write(batch)
		if err != nil {
			s.close(ReasonWrite)
			continue
		}
		s.lastWrite.Store(time.Now().UnixNano())
		n := 0
		for _, f := range batch {
			if f.seq != 0 {
				n++
			}
		}
		if n > 0 {
			h.metrics.Delivered(n)
		}
	}
}

// close ends the stream now, without writing what is queued. It is safe to
// call from any goroutine, any number of times.
func (s *subscriber) close(reason CloseReason) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed, s.reason = true, reason
	clear(s.queue)
	s.queue, s.spare = nil, nil
	busy := s.flushing || s.replaying
	if s.expiry != nil {
		s.expiry.Stop()
	}
	stopReplay := s.stopReplay
	s.mu.Unlock()
	if stopReplay != nil {
		stopReplay()
	}
	s.hub.index.remove(s)
	s.sink.abort()
	if !busy {
		s.release()
	}
}

// shutdown ends the stream once its queue is written, after sending retry
// (a reconnection delay) so that clients do not all reconnect at once.
func (s *subscriber) shutdown(retry *frame) {
	start, _ := s.enqueue(retry, int(^uint(0)>>1))
	s.mu.Lock()
	if !s.closed {
		s.ending = true
	}
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// release runs once the sink is no longer used by any goroutine.
func (s *subscriber) release() {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	s.released = true
	reason := s.reason
	s.mu.Unlock()
	s.hub.subscribers.Add(-1)
	s.hub.metrics.SubscriberRemoved(reason)
	close(s.done)
	if s.onClose != nil {
		s.onClose(reason)
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
