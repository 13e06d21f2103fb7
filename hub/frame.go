package hub

import (
	"strconv"
	"sync/atomic"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/sse"
)

// frame is an event encoded once, shared read-only by every subscriber that
// receives it.
type frame struct {
	seq  uint64 // the update's Seq; 0 for frames that are not updates
	data []byte // SSE bytes, ending with the blank line
	// refs counts the queues that hold an update frame (seq != 0): while
	// it is above zero, its bytes count against the hub's budget of queued
	// bytes (Options.QueuedBytes), once however many queues share it.
	refs atomic.Int32
}

// size is what an update frame counts for in queue budgets; 0 for other
// frames (heartbeats, retry and gap notices), which are small.
func (f *frame) size() int {
	if f.seq == 0 {
		return 0
	}
	return len(f.data)
}

// hold records that a queue holds f.
func (f *frame) hold(h *Hub) {
	if f.seq != 0 && f.refs.Add(1) == 1 {
		h.queued.Add(int64(len(f.data)))
	}
}

// release records that a queue let go of f (written or dropped).
func (f *frame) release(h *Hub) {
	if f.seq != 0 && f.refs.Add(-1) == 0 {
		h.queued.Add(-int64(len(f.data)))
	}
}

// encode turns u into a frame. Updates are validated before they are stored,
// so an error here means a store returned something it was never given; the
// caller skips such an update rather than corrupting streams.
func encode(u *herald.Update) (*frame, error) {
	data, err := sse.AppendEvent(make([]byte, 0, 32+len(u.ID)+len(u.Type)+len(u.Data)), sse.Event{
		ID:    u.ID,
		Type:  u.Type,
		Data:  u.Data,
		Retry: u.Retry,
	})
	if err != nil {
		return nil, err
	}
	return &frame{seq: u.Seq, data: data}, nil
}

// heartbeat is the comment sent on idle streams so that proxies and clients
// see bytes; it never reaches an EventSource's listeners.
var heartbeat = &frame{data: []byte(":\n")}

// matchedFrame returns f as subscriber s receives it: f itself, or, when s
// asked for it (Subscription.MatchedField), a copy that starts with a
// "matched" field listing the indexes of s's selectors that select one of
// topics. Standard clients ignore the unknown field; a client that shares
// one stream among several subscriptions routes each event with it.
func (s *subscriber) matchedFrame(f *frame, topics []string) *frame {
	if !s.matchedField {
		return f
	}
	data := make([]byte, 0, len(f.data)+16)
	data = append(data, "matched:"...)
	for i, sel := range s.selectors {
		if sel.IsAll() || matchAny(sel, topics) {
			data = append(data, ' ')
			data = strconv.AppendInt(data, int64(i), 10)
		}
	}
	data = append(data, '\n')
	return &frame{seq: f.seq, data: append(data, f.data...)}
}
