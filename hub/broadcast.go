package hub

import (
	"fmt"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/sse"
)

// Broadcast delivers u at once to the live subscribers of this hub that
// select one of its topics (and may receive it, when it is private), without
// storing it: it has no id, so it changes no client's last event id; it is
// never replayed; it reaches no other node of a cluster; and a subscriber
// that falls behind is not sent it. It suits notices that only matter now,
// such as subscription events, which must not take room from an
// application's history. u must be valid and have no ID.
func (h *Hub) Broadcast(u herald.Update) error {
	if u.ID != "" {
		return fmt.Errorf("%w: a broadcast update has no id", herald.ErrInvalid)
	}
	if err := u.Validate(); err != nil {
		return err
	}
	data, err := sse.AppendEvent(nil, sse.Event{Type: u.Type, Data: u.Data, Retry: u.Retry})
	if err != nil {
		return fmt.Errorf("%w: %v", herald.ErrInvalid, err)
	}
	f := &frame{data: data}
	h.fanoutMu.Lock()
	defer h.fanoutMu.Unlock()
	h.index.mu.RLock()
	h.deliver(f, u.Topics, u.Private)
	h.index.mu.RUnlock()
	h.afterFanout()
	return nil
}
