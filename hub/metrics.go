package hub

// Metrics receives the hub's counters. Implementations must be safe for
// concurrent use and cheap: they are called on the delivery path. The
// metrics package provides a Prometheus implementation.
type Metrics interface {
	// SubscriberAdded and SubscriberRemoved track live subscribers.
	SubscriberAdded()
	SubscriberRemoved(reason CloseReason)
	// Published counts updates accepted by the store.
	Published(n int)
	// Delivered counts events written to subscribers (live and replayed).
	Delivered(n int)
	// Replayed counts events sent from history.
	Replayed(n int)
	// HistoryGap counts subscribers whose Last-Event-ID was not held.
	HistoryGap()
	// Refused counts subscriptions refused for a limit, by reason (one of
	// the Refused... constants).
	Refused(reason string)
}

// CloseReason says why a subscriber's stream ended.
type CloseReason string

// Reasons a stream ends.
const (
	ReasonClient   CloseReason = "client"   // the client went away
	ReasonSlow     CloseReason = "slow"     // the subscriber's queue overflowed
	ReasonWrite    CloseReason = "write"    // a write failed or timed out
	ReasonExpired  CloseReason = "expired"  // its token expired
	ReasonShutdown CloseReason = "shutdown" // the hub is shutting down
	ReasonReplay   CloseReason = "replay"   // replaying history failed
)

type nopMetrics struct{}

func (nopMetrics) SubscriberAdded()              {}
func (nopMetrics) SubscriberRemoved(CloseReason) {}
func (nopMetrics) Published(int)                 {}
func (nopMetrics) Delivered(int)                 {}
func (nopMetrics) Replayed(int)                  {}
func (nopMetrics) HistoryGap()                   {}
func (nopMetrics) Refused(string)                {}
