package mercure

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
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
func (h *Handler) subscriptions(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Subscriptions {
		httpError(w, http.StatusNotFound, "the subscriptions API is off; start the hub with --subscriptions")
		return
	}
	claims, _, err := h.token(r, h.cfg.Subscribers, "subscriber")
	if err != nil {
		httpError(w, http.StatusUnauthorized, "invalid subscriber token: %v", err)
		return
	}
	if claims == nil {
		h.cfg.Metrics.AuthFailure("missing")
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

	var list []subscription
	for _, info := range h.cfg.Hub.SubscriberInfos() {
		if wantSub != "" && info.ID != wantSub {
			continue
		}
		for _, sel := range info.Selectors {
			if wantSel != "" && sel != wantSel {
				continue
			}
			id := subscriptionID(sel, info.ID)
			if !claims.CanReceive([]string{id}) {
				continue
			}
			list = append(list, subscription{ID: id, Type: "Subscription", Topic: sel, Subscriber: info.ID, Active: true, Payload: info.Payload})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
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
	if list == nil {
		list = []subscription{}
	}
	_ = enc.Encode(struct {
		Context       string         `json:"@context"`
		ID            string         `json:"id"`
		Type          string         `json:"type"`
		LastEventID   string         `json:"lastEventID"`
		Subscriptions []subscription `json:"subscriptions"`
	}{jsonLDContext, strings.TrimSuffix(r.URL.EscapedPath(), "/"), "Subscriptions", last, list})
}
