package hub

import (
	"encoding/json"
	"iter"
)

// SubscriberInfo describes a live subscriber, for the active subscriptions API.
type SubscriberInfo struct {
	// ID identifies the subscriber.
	ID string
	// Selectors are the topic selectors it subscribed with (draft-08
	// matchers: their values).
	Selectors []string
	// MatchTypes holds, for each selector, the type of the draft-08 matcher
	// it stands for (topic.MatchExact or topic.MatchURLPattern), or "" for
	// a draft-07 selector (see topic.Selector.MatchType).
	MatchTypes []string
	// Payload is what its token's mercure.payload claim held, if anything.
	Payload json.RawMessage
	// Payloads is Subscription.Payloads: a payload per selector, or nil.
	Payloads []json.RawMessage
}

// SubscriberInfos returns a snapshot of the live subscribers, in no
// particular order.
func (h *Hub) SubscriberInfos() []SubscriberInfo {
	var out []SubscriberInfo
	for info := range h.EachSubscriber() {
		out = append(out, info)
	}
	return out
}

// EachSubscriber yields the live subscribers, in no particular order, as of
// when the iteration starts. It holds no lock while it yields, and keeps
// only a pointer per subscriber, so that listing many subscribers delays
// neither subscriptions nor deliveries, and costs memory only for what the
// caller keeps.
func (h *Hub) EachSubscriber() iter.Seq[SubscriberInfo] {
	return func(yield func(SubscriberInfo) bool) {
		for _, s := range h.index.snapshot() {
			sels := make([]string, len(s.selectors))
			types := make([]string, len(s.selectors))
			for i, sel := range s.selectors {
				sels[i], types[i] = sel.String(), sel.MatchType()
			}
			info := SubscriberInfo{ID: s.id, Selectors: sels, MatchTypes: types}
			if s.extra != nil {
				info.Payload, info.Payloads = s.extra.payload, s.extra.payloads
			}
			if !yield(info) {
				return
			}
		}
	}
}
