package mercure

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/topic"
)

// matchParams are the subscribe query parameters of draft 08's reserved
// match namespace this hub supports, in the order their matchers are
// listed, and the matcher type of each.
var matchParams = []struct{ name, typ string }{
	{"match", topic.MatchExact},
	{"match_exact", topic.MatchExact},
	{"match_urlpattern", topic.MatchURLPattern},
}

// subscribeGeneration serves a subscription of draft 08, one that mixes the
// generations or names neither, or one of a generation the hub does not
// serve, and reports whether it did; a draft-07 subscription is left to
// subscribe. The generation is the parameters': topic is draft 07, any
// parameter of the match namespace draft 08 (draft-08 "Subscription").
func (h *Handler) subscribeGeneration(w http.ResponseWriter, r *http.Request, q url.Values) bool {
	_, topics := q["topic"]
	matches := false
	for name := range q {
		// matchedField is a Herald extension of draft 07 (herald.js); in a
		// draft-08 request, which reserves every match* name, it is a 400.
		matches = matches || isMatchParam(name) && name != "matchedField"
	}
	switch {
	case topics && matches:
		httpError(w, http.StatusBadRequest, "a subscription is either draft 07 (topic=) or draft 08 (match=, match_urlpattern=), not both")
	case matches && !h.cfg.Protocol.serves08():
		h.refuseGeneration(w, true)
	case matches:
		h.subscribe08(w, r, q)
	case topics && !h.cfg.Protocol.serves07():
		h.refuseGeneration(w, false)
	case topics:
		return false
	case !h.cfg.Protocol.serves08():
		httpError(w, http.StatusBadRequest, `missing "topic" query parameter: subscribe with ?topic=<topic, URI template or *>`)
	case !h.cfg.Protocol.serves07():
		httpError(w, http.StatusBadRequest, `missing "match" query parameter: subscribe with ?match=<topic> or ?match_urlpattern=<URL pattern>`)
	default:
		httpError(w, http.StatusBadRequest, `no topic to subscribe to: subscribe with ?match=<topic> or ?match_urlpattern=<URL pattern> (draft 08), or with ?topic=<topic, URI template or *> (draft 07)`)
	}
	return true
}

// subscribe08 opens a draft-08 event stream: the matchers of the query
// (match and match_exact are exact, match_urlpattern URL patterns, whose
// relative patterns and topics resolve against the hub's resource
// identifier; any other name of the match namespace is a 400, as is a
// matcher that is empty, invalid, longer than MaxSelectorLength, or more
// than MaxTopics of them; equal matchers count once), the access token of
// the Authorization header or the cookie (never the query string), and
// resuming after the Last-Event-ID header, else the last_event_id
// parameter. The response names the event the stream starts after in
// Mercure-Last-Event-ID. Private updates, replayed ones included, go to the
// stream only when its token grants subscribe on one of their topics; the
// stream ends at the token's exp.
func (h *Handler) subscribe08(w http.ResponseWriter, r *http.Request, q url.Values) {
	if h.misdirected(w, r) {
		return
	}
	for _, name := range []string{"lastEventID", "lastEventId", "Last-Event-ID"} {
		if _, ok := q[name]; ok {
			httpError(w, http.StatusBadRequest, "%s is draft 07's parameter: a draft-08 subscription resumes with last_event_id (or the Last-Event-ID header)", name)
			return
		}
	}
	if _, ok := q[auth.QueryParam]; ok {
		h.cfg.Metrics.AuthFailure("invalid")
		h.refuse08(w, r, invalid("draft 08 accepts no token in the URL (the %s parameter): send it in the Authorization header or the %s cookie", auth.QueryParam, h.cfg.AccessCookie))
		return
	}
	for name := range q {
		if isMatchParam(name) && !slices.ContainsFunc(matchParams, func(p struct{ name, typ string }) bool { return p.name == name }) {
			httpError(w, http.StatusBadRequest, "unknown matcher parameter %q: this hub supports match (or match_exact) and match_urlpattern, whose names are case-sensitive", name)
			return
		}
	}
	n := 0
	for _, p := range matchParams {
		n += len(q[p.name])
	}
	if n > h.cfg.MaxTopics {
		httpError(w, http.StatusBadRequest, "too many topic matchers: %d, the limit is %d", n, h.cfg.MaxTopics)
		return
	}
	bytes := 0
	for _, p := range matchParams {
		bytes += totalLen(q[p.name])
	}
	if bytes > h.cfg.MaxSelectorBytes {
		httpError(w, http.StatusBadRequest, "the topic matchers are %d bytes together, the limit is %d", bytes, h.cfg.MaxSelectorBytes)
		return
	}
	resource := h.resource(r)
	var matchers []*topic.Matcher
	seen := make(map[string]bool, n)
	for _, p := range matchParams {
		for _, v := range q[p.name] {
			if len(v) > h.cfg.MaxSelectorLength {
				httpError(w, http.StatusBadRequest, "%s value is %d bytes long, the limit is %d", p.name, len(v), h.cfg.MaxSelectorLength)
				return
			}
			if key := p.typ + "\x00" + v; !seen[key] {
				seen[key] = true
				m, err := h.cfg.Matchers.Compile(p.typ, v, resource)
				if err != nil {
					httpError(w, http.StatusBadRequest, "bad %s value: %s", p.name, reason(err))
					return
				}
				matchers = append(matchers, m)
			}
		}
	}

	claims, _, err := h.access(r)
	if err != nil {
		h.refuse08(w, r, err)
		return
	}
	if claims == nil && h.cfg.NoAnonymous {
		h.cfg.Metrics.AuthFailure("missing")
		h.refuse08(w, r, noTokenError{"this hub requires an access token (Authorization: Bearer header, or the " + h.cfg.AccessCookie + " cookie)"})
		return
	}

	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("last_event_id")
	}
	if len(last) > herald.MaxIDLength || strings.ContainsAny(last, "\r\n\x00") {
		httpError(w, http.StatusBadRequest, "bad last event id: at most %d bytes, without CR, LF or NUL", herald.MaxIDLength)
		return
	}

	sub := hub.Subscription{
		ID:                hub.NewID(),
		Client:            h.cfg.ClientAddress(r),
		Selectors:         make([]*topic.Selector, len(matchers)),
		Payloads:          make([]json.RawMessage, len(matchers)),
		LastEventIDHeader: LastEventIDField,
		Resume:            last != "",
		LastEventID:       last,
		GapEvent:          truthy(q.Get("gapEvent")),
		LiveEvent:         truthy(q.Get("liveEvent")),
	}
	for i, m := range matchers {
		sub.Selectors[i] = m.Selector()
		sub.Payloads[i] = claims.PayloadFor(m.String())
	}
	if claims != nil {
		sub.CanReceive = claims.CanReceive
		sub.Expires = claims.ExpiresAt
	}
	if h.cfg.Subscriptions {
		anonymous := claims == nil
		sub.OnOpen = func() { h.announce08(sub, true, anonymous) }
		sub.OnClose = func(hub.CloseReason) {
			// Called from the hub's goroutines, which may hold a stream's
			// lock: announce from another one.
			go h.announce08(sub, false, anonymous)
		}
	}
	h.cfg.Hub.ServeStream(w, r, sub)
}

// subscription08 is a draft-08 subscription, as subscription events and the
// subscriptions API show it (draft-08 "Subscription Events").
type subscription08 struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	MatchType  string          `json:"match_type"`
	Match      string          `json:"match"`
	Subscriber string          `json:"subscriber"`
	Active     bool            `json:"active"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// subscriptionID08 is the topic of the subscription events of one matcher of
// a subscriber: Path/subscriptions/{match_type}/{match}/{subscriber}, each
// variable percent-encoded once, as a whole. It is relative: it resolves
// against the hub's URL, as relative URL patterns do.
func subscriptionID08(matchType, match, subscriber string) string {
	return Path + "/subscriptions/" + escapeSegment(matchType) + "/" + escapeSegment(match) + "/" + escapeSegment(subscriber)
}

// announce08 delivers a private subscription event of type "mercure" for
// each matcher of a draft-08 subscription to the live subscribers that
// select it and may receive it, as announce does for draft 07: not stored,
// and rate-limited for anonymous subscribers.
func (h *Handler) announce08(sub hub.Subscription, active, anonymous bool) {
	for i, sel := range sub.Selectors {
		if anonymous && h.anonymousEvents != nil && !h.anonymousEvents.Allow() {
			if m, ok := h.cfg.Metrics.(interface{ SubscriptionEventDropped() }); ok {
				m.SubscriptionEventDropped()
			}
			continue
		}
		id := subscriptionID08(sel.MatchType(), sel.String(), sub.ID)
		data, err := json.Marshal(subscription08{
			ID: id, Type: "subscription", MatchType: sel.MatchType(), Match: sel.String(),
			Subscriber: sub.ID, Active: active, Payload: sub.Payloads[i],
		})
		if err != nil {
			h.cfg.Logger.Error("encoding a subscription event failed", "err", err)
			return
		}
		u := herald.Update{Topics: []string{id}, Private: true, Type: subscriptionEventType, Data: string(data)}
		if err := h.cfg.Hub.Broadcast(u); err != nil {
			h.cfg.Logger.Warn("announcing a subscription failed", "subscriber", sub.ID, "err", err)
		}
	}
}
