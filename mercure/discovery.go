package mercure

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/topic"
)

// resourceMetadata is the OAuth 2.0 protected resource metadata of a hub
// (RFC 9728 §2, with the members draft-08 "Protected Resource Metadata"
// defines).
type resourceMetadata struct {
	Resource                           string   `json:"resource"`
	AuthorizationServers               []string `json:"authorization_servers,omitempty"`
	AuthorizationDetailsTypesSupported []string `json:"authorization_details_types_supported"`
	BearerMethodsSupported             []string `json:"bearer_methods_supported"`
	MercureCookie                      string   `json:"mercure_cookie,omitempty"`
	MercureMatcherTypesSupported       []string `json:"mercure_matcher_types_supported"`
	MercureSubscriptions               bool     `json:"mercure_subscriptions,omitempty"`
}

// metadata serves the hub's protected resource metadata at MetadataPath:
// its resource identifier (the one the request's origin derives when none
// is configured, so that resource always equals the identifier the URL was
// derived from, as RFC 9728 §3.3 requires), the issuers that are
// authorization servers (those whose identifier is an https URL; others are
// self-issuing publishers), the Mercure authorization detail type, the
// header and cookie presentations, the matcher types and whether the
// subscriptions API is on. A hub restricted to draft 07 publishes none.
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Protocol.serves08() {
		http.NotFound(w, r)
		return
	}
	if h.misdirected(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "method %s is not allowed", r.Method)
		return
	}
	md := resourceMetadata{
		Resource:                           h.resource(r),
		AuthorizationDetailsTypesSupported: []string{auth.DetailType},
		BearerMethodsSupported:             []string{"header"},
		MercureCookie:                      h.cfg.AccessCookie,
		MercureMatcherTypesSupported:       topic.MatcherTypes,
		MercureSubscriptions:               h.cfg.Subscriptions,
	}
	if h.cfg.Access != nil {
		for _, iss := range h.cfg.Access.Issuers() {
			if u, err := url.Parse(iss); err == nil && u.Scheme == "https" && u.Host != "" {
				md.AuthorizationServers = append(md.AuthorizationServers, iss)
			}
		}
	}
	body, _ := json.Marshal(md)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	// Clients fetch it when they discover the hub; it changes only with the
	// hub's configuration.
	hdr.Set("Cache-Control", "public, max-age=3600")
	hdr.Set("Content-Length", strconv.Itoa(len(body)+1))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(append(body, '\n'))
}

// hubLink is the Link header value pointing at the hub with rel="mercure"
// (draft-08 "Discovery"), with the reconciliation cursor lastEventID and
// the type and content type of subscription events, as the subscriptions
// API sends it.
func (h *Handler) hubLink(r *http.Request, lastEventID string) string {
	return "<" + h.resource(r) + `>; rel="mercure"; last-event-id="` + challengeSafe(lastEventID) +
		`"; type="` + subscriptionEventType + `"; content-type="application/json"`
}

// challengeSafe replaces what may not appear in a quoted header parameter.
func challengeSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}
