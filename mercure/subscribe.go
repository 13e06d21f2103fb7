package mercure

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/topic"
)

// subscribe opens an event stream for the topic selectors in the query.
func (h *Handler) subscribe(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%s", reason(err))
		return
	}
	if h.subscribeGeneration(w, r, q) {
		return // draft 08 (subscribe08.go), or not a draft-07 subscription
	}
	raw := q["topic"]
	if len(raw) == 0 {
		httpError(w, http.StatusBadRequest, `missing "topic" query parameter: subscribe with ?topic=<topic, URI template or *>`)
		return
	}
	if len(raw) > h.cfg.MaxTopics {
		httpError(w, http.StatusBadRequest, "too many topic selectors: %d, the limit is %d", len(raw), h.cfg.MaxTopics)
		return
	}
	if n := totalLen(raw); n > h.cfg.MaxSelectorBytes {
		httpError(w, http.StatusBadRequest, "the topic selectors are %d bytes together, the limit is %d", n, h.cfg.MaxSelectorBytes)
		return
	}
	sels := make([]*topic.Selector, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for _, s := range raw {
		if len(s) > h.cfg.MaxSelectorLength {
			httpError(w, http.StatusBadRequest, "topic selector is %d bytes long, the limit is %d", len(s), h.cfg.MaxSelectorLength)
			return
		}
		if err := herald.ValidateTopic(s); err != nil {
			httpError(w, http.StatusBadRequest, "bad topic selector %q: %s", s, reason(err))
			return
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		sel, err := h.cfg.Hub.Selector(s)
		if err != nil {
			httpError(w, http.StatusBadRequest, "%s", reason(err))
			return
		}
		sels = append(sels, sel)
	}

	claims, _, err := h.token(r, h.cfg.Subscribers, "subscriber")
	if err != nil {
		httpError(w, http.StatusUnauthorized, "invalid subscriber token: %v", err)
		return
	}
	if claims == nil && h.cfg.NoAnonymous {
		h.cfg.Metrics.AuthFailure("missing")
		h.challenge07(w, r)
		httpError(w, http.StatusUnauthorized, "this hub requires a subscriber token (Authorization: Bearer header, authorization query parameter or mercureAuthorization cookie)")
		return
	}

	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("lastEventID")
	}
	if last == "" {
		last = q.Get("Last-Event-ID")
	}
	if last == "" {
		// The spelling of the event-source-polyfill and
		// reconnecting-eventsource packages.
		last = q.Get("lastEventId")
	}
	if len(last) > herald.MaxIDLength || strings.ContainsAny(last, "\r\n\x00") {
		httpError(w, http.StatusBadRequest, "bad Last-Event-ID: at most %d bytes, without CR, LF or NUL", herald.MaxIDLength)
		return
	}

	sub := hub.Subscription{
		ID:          hub.NewID(),
		Client:      h.cfg.ClientAddress(r),
		Selectors:   sels,
		Resume:      last != "",
		LastEventID: last,
		GapEvent:    truthy(q.Get("gapEvent")),
		LiveEvent:   truthy(q.Get("liveEvent")),
		// A Herald extension for clients sharing a stream (herald.js).
		MatchedField: truthy(q.Get("matchedField")),
	}
	if claims != nil {
		sub.CanReceive = claims.CanReceive
		sub.Expires = claims.ExpiresAt
		sub.Payload = claims.Payload
	}
	if h.cfg.Subscriptions {
		anonymous := claims == nil
		sub.OnOpen = func() { h.announce(sub, true, anonymous) }
		sub.OnClose = func(hub.CloseReason) {
			// Called from the hub's goroutines, which may hold a stream's
			// lock: announce from another one.
			go h.announce(sub, false, anonymous)
		}
	}
	h.cfg.Hub.ServeStream(w, r, sub)
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "on", "yes":
		return true
	}
	return false
}

// subscription is the JSON-LD representation of one subscription.
type subscription struct {
	Context     string          `json:"@context,omitempty"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Topic       string          `json:"topic"`
	Subscriber  string          `json:"subscriber"`
	Active      bool            `json:"active"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	LastEventID string          `json:"lastEventID,omitempty"`
}

const jsonLDContext = "https://mercure.rocks/"

// subscriptionID is the topic of the subscription events of one subscriber's
// selector: /.well-known/mercure/subscriptions/{selector}/{subscriber}.
func subscriptionID(selector, subscriber string) string {
	return Path + "/subscriptions/" + escapeSegment(selector) + "/" + escapeSegment(subscriber)
}

// escapeSegment percent-encodes s as one path segment: "/" and every other
// reserved character included, and a space as "%20" (never "+", which a path
// does not decode and a URI template would not match).
func escapeSegment(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// announce delivers a private subscription event for each selector of sub
// to the live subscribers that select it. The events are not stored
// (hub.Broadcast): they must never push an application's updates out of
// history, and those of anonymous subscribers are rate-limited.
func (h *Handler) announce(sub hub.Subscription, active, anonymous bool) {
	for _, sel := range sub.Selectors {
		if anonymous && h.anonymousEvents != nil && !h.anonymousEvents.Allow() {
			if m, ok := h.cfg.Metrics.(interface{ SubscriptionEventDropped() }); ok {
				m.SubscriptionEventDropped()
			}
			continue
		}
		id := subscriptionID(sel.String(), sub.ID)
		data, err := json.Marshal(subscription{
			Context: jsonLDContext, ID: id, Type: "Subscription", Topic: sel.String(),
			Subscriber: sub.ID, Active: active, Payload: sub.Payload,
		})
		if err != nil {
			h.cfg.Logger.Error("encoding a subscription event failed", "err", err)
			return
		}
		if err := h.cfg.Hub.Broadcast(herald.Update{Topics: []string{id}, Private: true, Data: string(data)}); err != nil {
			h.cfg.Logger.Warn("announcing a subscription failed", "subscriber", sub.ID, "err", err)
		}
	}
}
