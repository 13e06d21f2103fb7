package mercure

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// subscriptions serves the active subscriptions API:
//
//	GET /.well-known/mercure/subscriptions                      every subscription
//	GET /.well-known/mercure/subscriptions/{selector}           those for a selector
//	GET /.well-known/mercure/subscriptions/{selector}/{subscriber}   one
//
// Path segments are URL-encoded (as in subscription event ids). A subscriber
// token is required, and only the subscriptions whose id its mercure.subscribe
// claim selects are listed.
//
// A Herald extension bounds the answer: lists come in pages of at most
// ?limit= subscriptions (Config.SubscriptionsPageSize by default and at
// most), ordered by id; a page that is not the last names the next one in its
// "next" field and a Link header (rel="next"), which carry ?after=<the last
// id>. One listing runs at a time.
func (h *Handler) subscriptions(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Subscriptions {
		httpError(w, http.StatusNotFound, "the subscriptions API is off; start the hub with --subscriptions")
		return
	}
	if h.subscriptionsGeneration(w, r) {
		return // draft 08 (subscriptions08.go), or a generation the hub does not serve
	}
	claims, _, err := h.token(r, h.cfg.Subscribers, "subscriber")
	if err != nil {
		httpError(w, http.StatusUnauthorized, "invalid subscriber token: %v", err)
		return
	}
	if claims == nil {
		h.cfg.Metrics.AuthFailure("missing")
		h.challenge07(w, r)
		httpError(w, http.StatusUnauthorized, "the subscriptions API requires a subscriber token whose mercure.subscribe claim selects the subscriptions")
		return
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.EscapedPath(), Path+"/subscriptions"), "/")
	var segs []string
	if rest != "" {
		segs = strings.Split(rest, "/")
	}
	if len(segs) > 2 {
		http.NotFound(w, r)
		return
	}
	var wantSel, wantSub string
	for i, s := range segs {
		v, err := url.PathUnescape(s)
		if err != nil {
			httpError(w, http.StatusBadRequest, "bad path segment %q: %v", s, err)
			return
		}
		if i == 0 {
			wantSel = v
		} else {
			wantSub = v
		}
	}

	limit, after, ok := h.pageParams(w, r)
	if !ok {
		return
	}
	if len(segs) == 2 {
		limit = 1 // one subscription: its id is known
	}
	release, ok := h.beginListing(w, r)
	if !ok {
		return
	}
	defer release()
	pg := &page[subscription]{limit: limit, after: after}
	for info := range h.cfg.Hub.EachSubscriber() {
		if wantSub != "" && info.ID != wantSub {
			continue
		}
		for i, sel := range info.Selectors {
			if (wantSel != "" && sel != wantSel) || info.MatchTypes[i] != "" { // draft-08 matchers: subscriptions08.go
				continue
			}
			id := subscriptionID(sel, info.ID)
			if !pg.wants(id) || !claims.CanReceive([]string{id}) {
				continue
			}
			pg.add(id, subscription{ID: id, Type: "Subscription", Topic: sel, Subscriber: info.ID, Active: true, Payload: info.Payload})
		}
	}
	list, more := pg.items()
	next := ""
	if more && len(segs) < 2 {
		v := url.Values{"after": {list[limit-1].ID}, "limit": {strconv.Itoa(limit)}}
		next = strings.TrimSuffix(r.URL.EscapedPath(), "/") + "?" + v.Encode()
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	last, _, _ := h.cfg.Hub.Store().Last(r.Context())
	if last == "" {
		last = "earliest"
	}

	w.Header().Set("Content-Type", "application/ld+json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	if len(segs) == 2 {
		if len(list) == 0 {
			httpError(w, http.StatusNotFound, "no such active subscription")
			return
		}
		one := list[0]
		one.Context = jsonLDContext
		one.LastEventID = last
		_ = enc.Encode(one)
		return
	}
	_ = enc.Encode(struct {
		Context       string         `json:"@context"`
		ID            string         `json:"id"`
		Type          string         `json:"type"`
		LastEventID   string         `json:"lastEventID"`
		Subscriptions []subscription `json:"subscriptions"`
		Next          string         `json:"next,omitempty"`
	}{jsonLDContext, strings.TrimSuffix(r.URL.EscapedPath(), "/"), "Subscriptions", last, list, next})
}
