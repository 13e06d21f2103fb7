package mercure

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// subscriptionsGeneration serves a request of the subscriptions API with a
// draft-08 access token, or of a generation the hub does not serve, and
// reports whether it did; a request with a draft-07 token is left to
// subscriptions. Both generations need a token there; one without any is
// left to draft 07's answer, unless the hub speaks draft 08 only.
func (h *Handler) subscriptionsGeneration(w http.ResponseWriter, r *http.Request) bool {
	draft08 := h.draft08Publish(r) // the same test: an access token, or the draft-08 cookie
	switch {
	case draft08 && h.cfg.Protocol.serves08():
		h.subscriptions08(w, r)
	case draft08:
		h.refuseGeneration(w, true)
	case h.cfg.Protocol.serves07():
		return false
	default:
		if tok, _ := auth.TokenFromRequest(r); tok != "" {
			h.refuseGeneration(w, false)
			return true
		}
		h.cfg.Metrics.AuthFailure("missing")
		h.refuse08(w, r, noTokenError{"the subscriptions API requires an access token granting subscribe on the request's path"})
	}
	return true
}

// subscriptions08 serves the draft-08 subscriptions API (draft-08
// "Subscription API"):
//
//	GET /.well-known/mercure/subscriptions                                       every subscription
//	GET /.well-known/mercure/subscriptions/{match_type}/{match}                  those of a matcher
//	GET /.well-known/mercure/subscriptions/{match_type}/{match}/{subscriber}     one
//
// The access token must grant subscribe on the request's path, read as a
// relative topic (else 403 insufficient_scope). Answers are JSON documents
// (application/json) of draft-08 subscriptions only (draft-07 ones are
// listed by the draft-07 API); every answer carries the reconciliation
// cursor, the newest update's id, in a Link header: <hub>; rel="mercure";
// last-event-id="…". Lists come in pages, as in draft 07 (?limit=,
// ?after=, a next member and a Link rel="next").
func (h *Handler) subscriptions08(w http.ResponseWriter, r *http.Request) {
	if h.misdirected(w, r) {
		return
	}
	claims, _, err := h.access(r)
	if err != nil {
		h.refuse08(w, r, err)
		return
	}
	if claims == nil {
		h.cfg.Metrics.AuthFailure("missing")
		h.refuse08(w, r, noTokenError{"the subscriptions API requires an access token granting subscribe on the request's path"})
		return
	}
	path := r.URL.EscapedPath()
	if !claims.CanReceive([]string{path}) {
		h.cfg.Metrics.AuthFailure("forbidden")
		h.refuse08(w, r, fmt.Errorf("%w: the token grants subscribe on no matcher selecting %s", herald.ErrForbidden, path))
		return
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(path, Path+"/subscriptions"), "/")
	var segs []string
	if rest != "" {
		segs = strings.Split(rest, "/")
	}
	if len(segs) == 1 || len(segs) > 3 {
		httpError(w, http.StatusNotFound, "no such resource: the subscriptions API serves /subscriptions, /subscriptions/{match_type}/{match} and /subscriptions/{match_type}/{match}/{subscriber}")
		return
	}
	want := make([]string, len(segs))
	for i, s := range segs {
		v, err := url.PathUnescape(s)
		if err != nil {
			httpError(w, http.StatusBadRequest, "bad path segment %q: %v", s, err)
			return
		}
		want[i] = v
	}
	limit, after, ok := h.pageParams(w, r)
	if !ok {
		return
	}
	if len(segs) == 3 {
		limit = 1
	}
	release, ok := h.beginListing(w, r)
	if !ok {
		return
	}
	defer release()
	pg := &page[subscription08]{limit: limit, after: after}
	for info := range h.cfg.Hub.EachSubscriber() {
		if len(want) == 3 && info.ID != want[2] {
			continue
		}
		for i, match := range info.Selectors {
			typ := info.MatchTypes[i]
			if typ == "" || len(want) >= 2 && (typ != want[0] || match != want[1]) {
				continue // draft 07's, or another matcher
			}
			id := subscriptionID08(typ, match, info.ID)
			if !pg.wants(id) {
				continue
			}
			var payload json.RawMessage
			if i < len(info.Payloads) {
				payload = info.Payloads[i]
			}
			pg.add(id, subscription08{ID: id, Type: "subscription", MatchType: typ, Match: match, Subscriber: info.ID, Active: true, Payload: payload})
		}
	}
	list, more := pg.items()
	last, _, _ := h.cfg.Hub.Store().Last(r.Context())
	if last == "" {
		last = herald.EarliestID
	}
	hdr := w.Header()
	hdr.Add("Link", h.hubLink(r, last))
	hdr.Set("Cache-Control", "no-store")
	if len(segs) == 3 {
		if len(list) == 0 {
			httpError(w, http.StatusNotFound, "no such active subscription")
			return
		}
		hdr.Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list[0])
		return
	}
	next := ""
	if more {
		v := url.Values{"after": {list[limit-1].ID}, "limit": {strconv.Itoa(limit)}}
		next = strings.TrimSuffix(path, "/") + "?" + v.Encode()
		hdr.Add("Link", "<"+next+`>; rel="next"`)
	}
	hdr.Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		ID            string           `json:"id"`
		Type          string           `json:"type"`
		Subscriptions []subscription08 `json:"subscriptions"`
		Next          string           `json:"next,omitempty"`
	}{strings.TrimSuffix(path, "/"), "subscriptions", list, next})
}
