package hub

import "encoding/json"

// SubscriberInfo describes a live subscriber, for the active subscriptions API.
type SubscriberInfo struct {
	// ID identifies the subscriber.
	ID string
	// Selectors are the topic selectors it subscribed with.
	Selectors []string
	// Payload is what its token's mercure.payload claim held, if anything.
	Payload json.RawMessage
}

// SubscriberInfos returns a snapshot of the live subscribers, in no
// particular order.
func (h *Hub) SubscriberInfos() []SubscriberInfo {
	h.index.mu.RLock()
	defer h.index.mu.RUnlock()
	out := make([]SubscriberInfo, 0, len(h.index.all))
	for s := range h.index.all {
		sels := make([]string, len(s.selectors))
		for i, sel := range s.selectors {
			sels[i] = sel.String()
		}
		out = append(out, SubscriberInfo{ID: s.id, Selectors: sels, Payload: s.payload})
	}
	return out
}
