package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/topic"
)

// The draft-08 issuer of these tests: an https identifier (so the metadata
// lists it as an authorization server) with an HMAC key.
const (
	issuer08    = "https://issuer.example"
	issuerKey08 = "draft-08 issuer secret of the serve tests"
)

// serve08 runs a hub that trusts issuer08 and the draft-07 key serveTestKey.
func serve08(t *testing.T, args ...string) *servedHub {
	t.Helper()
	return serveHub(t, append([]string{"--jwt-key=" + serveTestKey, "--issuer=" + issuer08 + "=" + issuerKey08}, args...)...)
}

// hubURL08 is the hub's resource identifier when it derives it: its URL.
func (h *servedHub) hubURL08() string { return h.base + mercure.Path }

// metadataURL08 is where the hub's protected resource metadata is.
func (h *servedHub) metadataURL08() string {
	return h.base + "/.well-known/oauth-protected-resource" + mercure.Path
}

func exact08(m string) auth.MatcherGrant { return auth.MatcherGrant{Match: m} }
func pattern08(m string) auth.MatcherGrant {
	return auth.MatcherGrant{Match: m, MatchType: topic.MatchURLPattern}
}

func publish08(topics ...auth.MatcherGrant) auth.DetailGrant {
	return auth.DetailGrant{Actions: []string{auth.ActionPublish}, Topics: topics}
}

func subscribe08(payload any, topics ...auth.MatcherGrant) auth.DetailGrant {
	return auth.DetailGrant{Actions: []string{auth.ActionSubscribe}, Topics: topics, Payload: payload}
}

// accessToken mints a draft-08 access token of issuer08 for audience aud.
func accessToken(t testing.TB, aud string, ttl time.Duration, details ...auth.DetailGrant) string {
	t.Helper()
	tok, err := auth.SignAccess("HS256", []byte(issuerKey08), auth.AccessGrant{Issuer: issuer08, Audience: aud, TTL: ttl, Details: details})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bearer is an Authorization header with tok.
func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// cookie08 is a Cookie header carrying tok in the draft-08 cookie.
func cookie08(tok string) http.Header {
	return http.Header{"Cookie": {auth.AccessCookieName + "=" + tok}}
}

// publishWith publishes form to the hub with the headers hdr; it returns
// the response and its body.
func publishWith(t *testing.T, base string, hdr http.Header, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+mercure.Path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := clientFor(base).Do(req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// wantChallenge checks a refusal: its status, and a WWW-Authenticate
// Bearer challenge with the error code (none when code is "") and the
// hub's resource_metadata.
func wantChallenge(t *testing.T, name string, resp *http.Response, body string, status int, code, metadata string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: %s %q, want %d", name, resp.Status, body, status)
		return
	}
	if strings.TrimSpace(body) == "" {
		t.Errorf("%s: %d without a message", name, status)
	}
	ch := resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, "Bearer") || !strings.Contains(ch, `resource_metadata="`+metadata+`"`) {
		t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge with resource_metadata=%q", name, ch, metadata)
	}
	switch {
	case code == "" && strings.Contains(ch, "error="):
		t.Errorf("%s: WWW-Authenticate %q has an error code, want none (no token was sent)", name, ch)
	case code != "" && !strings.Contains(ch, `error="`+code+`"`):
		t.Errorf("%s: WWW-Authenticate %q, want error=%q", name, ch, code)
	}
}

// TestDraft08OneHubBothGenerations: on one hub, one URL, one history, a
// draft-08 subscriber (match=, match_urlpattern=) receives what draft-07
// and draft-08 publishers publish, with the same ids as a draft-07
// subscriber of the same topics; URL patterns match the canonical form of a
// topic; the stream names where it starts in Mercure-Last-Event-ID, not in
// Last-Event-ID, which the draft-07 stream keeps.
func TestDraft08OneHubBothGenerations(t *testing.T) {
	t.Parallel()
	h := serve08(t)
	pub07 := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	pub08 := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("*")))

	s08 := serveSubscribe(t, h.base, url.Values{"match": {"https://example.com/books/1"}, "match_urlpattern": {"https://example.com/authors/:id"}}.Encode(), nil)
	s07 := serveSubscribe(t, h.base, "topic=https://example.com/books/1&topic=https://example.com/authors/{id}", nil)
	if got := s08.resp.Header.Get(mercure.LastEventIDField); got != herald.EarliestID {
		t.Errorf("draft-08 stream: %s = %q, want %q", mercure.LastEventIDField, got, herald.EarliestID)
	}
	if _, ok := s08.resp.Header["Last-Event-Id"]; ok {
		t.Error("a draft-08 stream has a Last-Event-ID response header")
	}
	if got := s07.resp.Header.Get("Last-Event-ID"); got != herald.EarliestID {
		t.Errorf("draft-07 stream: Last-Event-ID = %q, want %q", got, herald.EarliestID)
	}
	if len(s07.resp.Header.Values(mercure.LastEventIDField)) > 0 {
		t.Error("a draft-07 stream has a Mercure-Last-Event-ID response header")
	}

	var ids []string
	for _, p := range []struct {
		tok  string
		form url.Values
	}{
		{pub07, url.Values{"topic": {"https://example.com/books/1"}, "data": {"07 to both"}}},
		{pub08, url.Values{"topic": {"https://example.com/books/1"}, "data": {"08 to both"}}},
		{pub08, url.Values{"topic": {"https://EXAMPLE.com:443/authors/../authors/7"}, "data": {"08, canonical form"}}},
		{pub07, url.Values{"topic": {"https://example.com/authors/7"}, "data": {"07 to a pattern and a template"}}},
	} {
		resp, id := publishWith(t, h.base, bearer(p.tok), p.form)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("publish %q: %s %q", p.form.Get("data"), resp.Status, id)
		}
		ids = append(ids, id)
	}
	want08 := []string{ids[0], ids[1], ids[2], ids[3]}
	want07 := []string{ids[0], ids[1], ids[3]} // the template does not match the non-canonical text
	for _, tc := range []struct {
		name string
		s    *serveStream
		want []string
	}{{"draft 08", s08, want08}, {"draft 07", s07, want07}} {
		for _, id := range tc.want {
			if ev := tc.s.next(t); ev.ID != id {
				t.Fatalf("%s subscriber: received %+v, want %q", tc.name, ev, id)
			}
		}
	}
}

// TestDraft08SubscribeErrors: every malformed draft-08 subscription is a
// 400 that says what is wrong; every token problem an RFC 6750 answer with a
// WWW-Authenticate challenge naming the resource metadata, with the token in
// the Authorization header or the cookie alike.
func TestDraft08SubscribeErrors(t *testing.T) {
	t.Parallel()
	h := serve08(t)
	md := h.metadataURL08()
	for _, tc := range []struct {
		name, query, want string
	}{
		{"both generations", "topic=a&match=a", "either draft 07 (topic=) or draft 08"},
		{"neither", "x=1", "?match="},
		{"matcher type in the wrong case", "match_URLPattern=/a", `unknown matcher parameter "match_URLPattern"`},
		{"Match", "Match=a", `unknown matcher parameter "Match"`},
		{"matches", "matches=a", `unknown matcher parameter "matches"`},
		{"unsupported matcher type", "match_uritemplate=/a/{b}", `unknown matcher parameter "match_uritemplate"`},
		{"empty matcher", "match", "must not be empty"},
		{"invalid URL pattern", "match_urlpattern=" + url.QueryEscape("https://example.com/("), "not a valid URL pattern"},
		{"format character", "match=" + url.QueryEscape("a\u200bb"), "format character U+200B"},
		{"too many matchers", strings.Repeat("match=a&", mercure.DefaultMaxTopics) + "match=b", "too many topic matchers"},
		{"draft-07 resume parameter", "match=a&lastEventID=x", "last_event_id"},
		{"malformed query", "match=%zz", "invalid URL escape"},
		{"draft 07's matchedField (the match namespace is reserved)", "match=a&matchedField=1", `unknown matcher parameter "matchedField"`},
		{"matchers over the byte limit together", strings.Repeat("match="+strings.Repeat("a", 2000)+"&", 9) + "match=b", "bytes together"},
	} {
		resp, body := serveGet(t, h.base+mercure.Path+"?"+tc.query, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s %q, want 400 saying %q", tc.name, resp.Status, body, tc.want)
		}
	}

	// A token in the URL: draft 08 refuses it (invalid_request).
	tok := accessToken(t, h.hubURL08(), time.Hour, subscribe08(nil, exact08("*")))
	resp, body := serveGet(t, h.base+mercure.Path+"?match=a&authorization="+tok, nil)
	wantChallenge(t, "token in the query", resp, body, http.StatusBadRequest, auth.CodeInvalidRequest, md)
	if strings.Contains(body, tok) || strings.Contains(resp.Header.Get("WWW-Authenticate"), tok) {
		t.Error("the refusal repeats the token")
	}

	expired := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": issuer08, "aud": h.hubURL08(), "exp": time.Now().Add(-time.Minute).Unix(),
		"authorization_details": []any{map[string]any{"type": auth.DetailType, "actions": []string{"subscribe"}, "topics": []any{map[string]string{"match": "*"}}}},
	})
	expired.Header["typ"] = "at+jwt"
	expiredTok, err := expired.SignedString([]byte(issuerKey08))
	if err != nil {
		t.Fatal(err)
	}
	untrusted, err := auth.SignAccess("HS256", []byte(issuerKey08), auth.AccessGrant{Issuer: "https://evil.example/<script>", Audience: h.hubURL08(), TTL: time.Hour,
		Details: []auth.DetailGrant{subscribe08(nil, exact08("*"))}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, code, want string
	}{
		{"a draft-07 token", serveToken(t, serveTestKey, auth.Grant{Subscribe: []string{"*"}}), auth.CodeInvalidToken, "not a draft-08 access token"},
		{"expired", expiredTok, auth.CodeInvalidToken, "expired"},
		{"another audience", accessToken(t, "https://other.example/.well-known/mercure", time.Hour, subscribe08(nil, exact08("*"))), auth.CodeInvalidToken, "audience"},
		{"an untrusted issuer", untrusted, auth.CodeInvalidToken, "issuer"},
		{"a forged signature", tok[:len(tok)-4] + "AAAA", auth.CodeInvalidToken, "signature"},
		{"not a JWT", "abc", auth.CodeInvalidToken, "not a draft-08 access token"},
	} {
		for _, loc := range []struct {
			name string
			hdr  http.Header
		}{{"header", bearer(tc.token)}, {"cookie", cookie08(tc.token)}} {
			name := tc.name + " in the " + loc.name
			resp, body := serveGet(t, h.base+mercure.Path+"?match=a", loc.hdr)
			wantChallenge(t, name, resp, body, http.StatusUnauthorized, auth.CodeInvalidToken, md)
			if !strings.Contains(body, tc.want) {
				t.Errorf("%s: %q does not say %q", name, body, tc.want)
			}
			if strings.Contains(body, "<script>") || strings.Contains(resp.Header.Get("WWW-Authenticate"), "<script>") {
				t.Errorf("%s: the refusal repeats what the token holds: %q", name, body)
			}
		}
	}
	for _, tc := range []struct {
		name string
		hdr  http.Header
		code string
	}{
		{"an empty Bearer header", http.Header{"Authorization": {"Bearer "}}, auth.CodeInvalidRequest},
		{"two Authorization headers", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, auth.CodeInvalidRequest},
		{"an empty cookie", http.Header{"Cookie": {auth.AccessCookieName + "="}}, auth.CodeInvalidRequest},
		{"another scheme", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, ""},
	} {
		resp, body := serveGet(t, h.base+mercure.Path+"?match=a", tc.hdr)
		status := http.StatusBadRequest
		if tc.code == "" {
			status = http.StatusUnauthorized
		}
		wantChallenge(t, tc.name, resp, body, status, tc.code, md)
	}

	// A hub that wants a token: a draft-08 subscriber without one is told
	// where the metadata is, without an error code (RFC 6750 §3.1).
	closed := serve08(t, "--anonymous=false")
	resp, body = serveGet(t, closed.base+mercure.Path+"?match=a", nil)
	wantChallenge(t, "no token, anonymous off", resp, body, http.StatusUnauthorized, "", closed.metadataURL08())
	s := serveSubscribe(t, closed.base, "match=a", cookie08(accessToken(t, closed.hubURL08(), time.Hour, subscribe08(nil, exact08("a")))))
	if s.resp.StatusCode != http.StatusOK {
		t.Errorf("with a token in the cookie: %s", s.resp.Status)
	}
}

// TestDraft08Publish: draft 08's publish rules, with the token in the
// Authorization header or the cookie; the rules that protect draft-08
// subscribers (type mercure, the reserved namespace) apply to draft-07
// publishers too.
func TestDraft08Publish(t *testing.T) {
	t.Parallel()
	h := serve08(t)
	md := h.metadataURL08()
	all := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("*")))
	pub07 := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	public := serveSubscribe(t, h.base, "match=t", nil)

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"the topic *", url.Values{"topic": {"*"}}, 400, `"*" is reserved`},
		{"the reserved namespace", url.Values{"topic": {"/.well-known/mercure/subscriptions/exact/a/b"}}, 400, "reserved namespace"},
		{"the reserved namespace, encoded", url.Values{"topic": {"https://x.example/.well-known/%6Dercure/subscriptions"}}, 400, "reserved namespace"},
		{"the reserved namespace, dot segments", url.Values{"topic": {"/a/../.well-known/mercure"}}, 400, "reserved namespace"},
		{"type mercure", url.Values{"topic": {"t"}, "type": {"mercure"}}, 400, "reserved"},
		{"a format character in a topic", url.Values{"topic": {"t\u202e"}}, 400, "U+202E"},
		{"a format character in the id", url.Values{"topic": {"t"}, "id": {"a\u200db"}}, 400, "U+200D"},
		{"a format character in the type", url.Values{"topic": {"t"}, "type": {"a\ufeff"}}, 400, "U+FEFF"},
		{"an id starting with #", url.Values{"topic": {"t"}, "id": {"#x"}}, 400, "'#'"},
		{"the id earliest", url.Values{"topic": {"t"}, "id": {"earliest"}}, 400, "reserved"},
		{"a retry that is not digits", url.Values{"topic": {"t"}, "retry": {"1e3"}}, 400, "retry"},
		{"too many topics", url.Values{"topic": slices.Repeat([]string{"t"}, mercure.DefaultMaxTopics+1)}, 413, "too many topics"},
		{"a topic too long", url.Values{"topic": {strings.Repeat("t", herald.MaxTopicLength+1)}}, 413, "limit"},
		{"no topic", url.Values{"data": {"x"}}, 400, "topic"},
	} {
		resp, body := publishWith(t, h.base, bearer(all), tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s %q, want %d saying %q", tc.name, resp.Status, body, tc.status, tc.want)
		}
	}
	// Draft-07 publishers may not forge what draft-08 subscribers trust.
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"type mercure", url.Values{"topic": {"t"}, "type": {"mercure"}}, 400},
		{"the reserved namespace, encoded", url.Values{"topic": {"/.well-known/%6Dercure/subscriptions/exact/a/b"}}, 403},
		{"the reserved namespace, dot segments", url.Values{"topic": {"https://x.example/a/../.well-known/mercure/x"}}, 403},
	} {
		if status, body := servePublish(t, h.base, pub07, tc.form); status != tc.status {
			t.Errorf("draft 07, %s: %d %q, want %d", tc.name, status, body, tc.status)
		}
	}

	// Authorization: every topic must be granted.
	some := accessToken(t, h.hubURL08(), time.Hour, publish08(pattern08("https://example.com/books/:id")), subscribe08(nil, exact08("t")))
	resp, body := publishWith(t, h.base, bearer(some), url.Values{"topic": {"https://example.com/books/1", "t"}})
	wantChallenge(t, "one topic not granted", resp, body, http.StatusForbidden, auth.CodeInsufficientScope, md)
	if resp, body := publishWith(t, h.base, bearer(some), url.Values{"topic": {"https://example.com/books/1"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("a granted topic: %s %q", resp.Status, body)
	}
	subOnly := accessToken(t, h.hubURL08(), time.Hour, subscribe08(nil, exact08("*")))
	resp, body = publishWith(t, h.base, bearer(subOnly), url.Values{"topic": {"t"}})
	wantChallenge(t, "a token that may only subscribe", resp, body, http.StatusForbidden, auth.CodeInsufficientScope, md)
	resp, body = publishWith(t, h.base, bearer(accessToken(t, "https://other.example/.well-known/mercure", time.Hour, publish08(exact08("*")))), url.Values{"topic": {"t"}})
	wantChallenge(t, "another audience", resp, body, http.StatusUnauthorized, auth.CodeInvalidToken, md)
	// No token at all: the generation is unknown; the draft-07 answer
	// names the metadata too.
	resp, body = publishWith(t, h.base, nil, url.Values{"topic": {"t"}})
	wantChallenge(t, "no token", resp, body, http.StatusUnauthorized, "", md)

	// The cookie: from an allowed origin only, and never from a request
	// that names none (CSRF).
	c := cookie08(all)
	resp, body = publishWith(t, h.base, c, url.Values{"topic": {"t"}, "data": {"no origin"}})
	wantChallenge(t, "cookie without Origin or Referer", resp, body, http.StatusForbidden, "", md)
	c.Set("Origin", "https://evil.example")
	if resp, body := publishWith(t, h.base, c, url.Values{"topic": {"t"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cookie from another origin: %s %q, want 403", resp.Status, body)
	}
	c.Set("Origin", h.base)
	resp, id := publishWith(t, h.base, c, url.Values{"topic": {"t"}, "data": {"cookie"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cookie from the hub's origin: %s %q", resp.Status, id)
	}
	if ev := public.next(t); ev.ID != id || ev.Data != "cookie" {
		t.Errorf("received %+v, want the update published with the cookie", ev)
	}
	// private: present means private, whatever its value.
	resp, privateID := publishWith(t, h.base, bearer(all), url.Values{"topic": {"t"}, "private": {"false"}})
	resp2, publicID := publishWith(t, h.base, bearer(all), url.Values{"topic": {"t"}, "data": {"public"}})
	if resp.StatusCode != http.StatusOK || resp2.StatusCode != http.StatusOK {
		t.Fatalf("publish: %s, %s", resp.Status, resp2.Status)
	}
	if ev := public.next(t); ev.ID != publicID {
		t.Errorf("an anonymous subscriber received %+v, want %q (%q, private=false, is private in draft 08)", ev, publicID, privateID)
	}
}

// TestDraft08Discovery: the protected resource metadata of a hub, derived
// from the request's origin or configured; a draft-07 hub publishes none.
func TestDraft08Discovery(t *testing.T) {
	t.Parallel()
	h := serve08(t, "--subscriptions", "--issuer=self-issued="+serveTestKey)
	resp, body := serveGet(t, h.metadataURL08(), nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("metadata: %s %s %q", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var md map[string]any
	if err := json.Unmarshal([]byte(body), &md); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"resource":                              h.hubURL08(),
		"authorization_servers":                 []any{issuer08}, // not "self-issued", which is no URL
		"authorization_details_types_supported": []any{auth.DetailType},
		"bearer_methods_supported":              []any{"header"},
		"mercure_cookie":                        auth.AccessCookieName,
		"mercure_matcher_types_supported":       []any{"exact", "urlpattern"},
		"mercure_subscriptions":                 true,
	}
	for k, v := range want {
		if got, _ := json.Marshal(md[k]); string(got) != mustJSON(v) {
			t.Errorf("metadata %s = %s, want %s", k, got, mustJSON(v))
		}
	}

	const id = "https://hub.example.com/.well-known/mercure"
	configured := serve08(t, "--resource-identifier="+id, "--cookie-name=hub_token")
	_, body = serveGet(t, configured.metadataURL08(), nil)
	md = nil
	if err := json.Unmarshal([]byte(body), &md); err != nil {
		t.Fatal(err)
	}
	if md["resource"] != id || md["mercure_cookie"] != "hub_token" || md["mercure_subscriptions"] != nil {
		t.Errorf("configured metadata: %s", body)
	}
	// Its challenges name the metadata of its resource identifier, and its
	// tokens must name it as audience.
	resp, body = serveGet(t, configured.base+mercure.Path+"?match=a", bearer(accessToken(t, configured.hubURL08(), time.Hour, subscribe08(nil, exact08("a")))))
	wantChallenge(t, "configured resource identifier", resp, body, http.StatusUnauthorized, auth.CodeInvalidToken,
		"https://hub.example.com/.well-known/oauth-protected-resource/.well-known/mercure")
	s := serveSubscribe(t, configured.base, "match=a", http.Header{"Cookie": {"hub_token=" + accessToken(t, id, time.Hour, subscribe08(nil, exact08("a")))}})
	if s.resp.StatusCode != http.StatusOK {
		t.Errorf("a token for the configured identifier: %s", s.resp.Status)
	}

	old := serveHub(t, "--jwt-key="+serveTestKey, "--protocol=07")
	if resp, body := serveGet(t, old.metadataURL08(), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a draft-07 hub's metadata: %s %q, want 404", resp.Status, body)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestDraft08Protocol: --protocol refuses a generation, whatever else the
// request says, with a message saying which one the hub speaks.
func TestDraft08Protocol(t *testing.T) {
	t.Parallel()
	only07 := serveHub(t, "--jwt-key="+serveTestKey, "--issuer="+issuer08+"="+issuerKey08, "--protocol=07")
	only08 := serveHub(t, "--jwt-key="+serveTestKey, "--issuer="+issuer08+"="+issuerKey08, "--protocol=08")
	for _, tc := range []struct {
		name string
		h    *servedHub
		get  string
		want string
	}{
		{"08 on a draft-07 hub", only07, "match=a", "only draft-07"},
		{"07 on a draft-08 hub", only08, "topic=a", "only draft-08"},
	} {
		resp, body := serveGet(t, tc.h.base+mercure.Path+"?"+tc.get, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s %q, want 400 saying %q", tc.name, resp.Status, body, tc.want)
		}
	}
	if status, body := servePublish(t, only08.base, serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}}), url.Values{"topic": {"t"}}); status != http.StatusBadRequest || !strings.Contains(body, "only draft-08") {
		t.Errorf("a draft-07 publish on a draft-08 hub: %d %q", status, body)
	}
	resp, body := publishWith(t, only07.base, bearer(accessToken(t, only07.hubURL08(), time.Hour, publish08(exact08("*")))), url.Values{"topic": {"t"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "only draft-07") {
		t.Errorf("a draft-08 publish on a draft-07 hub: %s %q", resp.Status, body)
	}
	resp, body = publishWith(t, only08.base, nil, url.Values{"topic": {"t"}})
	wantChallenge(t, "no token on a draft-08 hub", resp, body, http.StatusUnauthorized, "", only08.metadataURL08())
	s := serveSubscribe(t, only08.base, "match=t", nil)
	resp, id := publishWith(t, only08.base, bearer(accessToken(t, only08.hubURL08(), time.Hour, publish08(exact08("t")))), url.Values{"topic": {"t"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a draft-08 publish on a draft-08 hub: %s %q", resp.Status, id)
	}
	if ev := s.next(t); ev.ID != id {
		t.Errorf("received %+v, want %q", ev, id)
	}
}

// readUntil reads events from s until one with data last, and returns the
// ids of those read (last included).
func (s *serveStream) readUntil(t *testing.T, last string) []sse.Event {
	t.Helper()
	var evs []sse.Event
	for {
		ev := s.next(t)
		evs = append(evs, ev)
		if ev.Data == last {
			return evs
		}
	}
}

func eventIDs(evs []sse.Event) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

// TestDraft08PrivateReplayAndResume: private updates, published by either
// generation, reach a subscriber of either generation only when its token
// grants one of their topics, live and replayed, where replay is
// authorized again against the token the subscriber presents now (a
// narrower token sees less of the same history); a subscriber resumes in
// one generation from an id received in the other, and the draft-08
// response names the id it resumed from in Mercure-Last-Event-ID.
func TestDraft08PrivateReplayAndResume(t *testing.T) {
	t.Parallel()
	h := serve08(t)
	pub07 := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	pub08 := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("*")))
	var ids []string
	for _, p := range []struct {
		tok  string
		form url.Values
	}{
		{pub07, url.Values{"topic": {"https://example.com/a"}, "data": {"private a, by 07"}, "private": {"on"}}},
		{pub08, url.Values{"topic": {"https://example.com/b"}, "data": {"private b, by 08"}, "private": {""}}},
		{pub08, url.Values{"topic": {"https://example.com/a", "https://example.com/alternate"}, "data": {"private a, by 08"}, "private": {"1"}}},
		{pub07, url.Values{"topic": {"https://example.com/b"}, "data": {"public b"}}},
	} {
		resp, id := publishWith(t, h.base, bearer(p.tok), p.form)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("publish %q: %s %q", p.form.Get("data"), resp.Status, id)
		}
		ids = append(ids, id)
	}
	const every = "match_urlpattern=https://example.com/*"
	for _, tc := range []struct {
		name  string
		query string
		hdr   http.Header
		want  []string
	}{
		{"08, a token granting a and b", every + "&last_event_id=earliest",
			bearer(accessToken(t, h.hubURL08(), time.Hour, subscribe08(nil, pattern08("https://example.com/:x")))), ids},
		{"08, a narrower token: a only", every + "&last_event_id=earliest",
			cookie08(accessToken(t, h.hubURL08(), time.Hour, subscribe08(nil, exact08("https://example.com/a")))), []string{ids[0], ids[2], ids[3]}},
		{"08, granted only the alternate topic", every + "&last_event_id=earliest",
			bearer(accessToken(t, h.hubURL08(), time.Hour, subscribe08(nil, exact08("https://example.com/alternate")))), []string{ids[2], ids[3]}},
		{"08, anonymous", every + "&last_event_id=earliest", nil, []string{ids[3]}},
		{"07, a claim granting b only", "topic=https://example.com/{x}&lastEventID=earliest",
			bearer(serveToken(t, serveTestKey, auth.Grant{Subscribe: []string{"https://example.com/b"}})), []string{ids[1], ids[3]}},
	} {
		s := serveSubscribe(t, h.base, tc.query, tc.hdr)
		if got := eventIDs(s.readUntil(t, "public b")); !slices.Equal(got, tc.want) {
			t.Errorf("%s: replayed %q, want %q", tc.name, got, tc.want)
		}
	}

	// Resume across generations: an id a draft-07 stream received resumes
	// a draft-08 one (header or last_event_id), and the other way round.
	s08 := serveSubscribe(t, h.base, "match=https://example.com/b", http.Header{"Last-Event-ID": {ids[1]}})
	if got := s08.resp.Header.Get(mercure.LastEventIDField); got != ids[1] {
		t.Errorf("resuming draft 08 from %q: %s = %q", ids[1], mercure.LastEventIDField, got)
	}
	if ev := s08.next(t); ev.ID != ids[3] {
		t.Errorf("draft 08 resumed from a draft-07 id: received %+v, want %q", ev, ids[3])
	}
	// The header wins over the parameter.
	s08 = serveSubscribe(t, h.base, url.Values{"match": {"https://example.com/b"}, "last_event_id": {ids[0]}}.Encode(), http.Header{"Last-Event-ID": {ids[2]}})
	if ev := s08.next(t); ev.ID != ids[3] {
		t.Errorf("Last-Event-ID header and last_event_id: received %+v, want %q (after the header's id)", ev, ids[3])
	}
	s08 = serveSubscribe(t, h.base, url.Values{"match": {"https://example.com/b"}, "last_event_id": {ids[2]}}.Encode(), nil)
	if got := s08.resp.Header.Get(mercure.LastEventIDField); got != ids[2] {
		t.Errorf("last_event_id: %s = %q, want %q", mercure.LastEventIDField, got, ids[2])
	}
	if ev := s08.next(t); ev.ID != ids[3] {
		t.Errorf("last_event_id: received %+v, want %q", ev, ids[3])
	}
	s07 := serveSubscribe(t, h.base, "topic=https://example.com/b", http.Header{"Last-Event-ID": {ids[2]}})
	if ev := s07.next(t); ev.ID != ids[3] {
		t.Errorf("draft 07 resumed from an id published in draft 08: received %+v, want %q", ev, ids[3])
	}
	gone := serveSubscribe(t, h.base, "match=x&last_event_id=never-published", nil)
	if got := gone.resp.Header.Get(mercure.LastEventIDField); got != herald.EarliestID {
		t.Errorf("resuming from an unknown id: %s = %q, want %q", mercure.LastEventIDField, got, herald.EarliestID)
	}
}

// TestDraft08ExpClosesStream: a draft-08 stream ends when its token
// expires, and the token is refused from then on.
func TestDraft08ExpClosesStream(t *testing.T) {
	t.Parallel()
	h := serve08(t)
	tok := accessToken(t, h.hubURL08(), 2*time.Second, subscribe08(nil, exact08("t")))
	s := serveSubscribe(t, h.base, "match=t", bearer(tok))
	start := time.Now()
	if err := s.end(t); err == nil {
		t.Errorf("the stream ended without error")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the stream ended %v after it opened, with a token valid for 2 s", d)
	}
	resp, body := serveGet(t, h.base+mercure.Path+"?match=t", bearer(tok))
	wantChallenge(t, "the expired token", resp, body, http.StatusUnauthorized, auth.CodeInvalidToken, h.metadataURL08())
	_, metrics := serveGet(t, h.base+"/metrics", nil)
	if got := metricValue(t, metrics, `herald_subscribers_closed_total{reason="expired"}`); got != 1 {
		t.Errorf(`herald_subscribers_closed_total{reason="expired"} = %v, want 1`, got)
	}
}

// subscriptionDoc is a draft-08 subscription document.
type subscriptionDoc struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	MatchType  string          `json:"match_type"`
	Match      string          `json:"match"`
	Subscriber string          `json:"subscriber"`
	Active     bool            `json:"active"`
	Payload    json.RawMessage `json:"payload"`
}

// TestDraft08Subscriptions: subscription events and the subscriptions API in
// draft-08 shape: private events of type mercure, at
// /.well-known/mercure/subscriptions/{match_type}/{match}/{subscriber}, for
// draft-08 subscriptions only; the API answers JSON with the cursor in a
// Link header, to tokens granting subscribe on the path only.
func TestDraft08Subscriptions(t *testing.T) {
	t.Parallel()
	h := serve08(t, "--subscriptions")
	watcherTok := accessToken(t, h.hubURL08(), time.Hour,
		subscribe08(map[string]string{"role": "watcher"}, pattern08(mercure.Path+"/subscriptions/*"), exact08(mercure.Path+"/subscriptions")))
	watcher := serveSubscribe(t, h.base, "match_urlpattern="+url.QueryEscape(mercure.Path+"/subscriptions/:type/:match/:subscriber"), bearer(watcherTok))
	// Its own subscription event (it selects it, and may receive it).
	if own := watcher.next(t); own.Type != "mercure" || !strings.Contains(own.Data, `"role":"watcher"`) {
		t.Errorf("the watcher's own subscription event: %+v", own)
	}

	memberTok := accessToken(t, h.hubURL08(), time.Hour, subscribe08(map[string]string{"user": "ann"}, pattern08("https://example.com/rooms/:id")))
	member := serveSubscribe(t, h.base, url.Values{"match_urlpattern": {"https://example.com/rooms/:id"}, "match": {"https://example.com/lobby"}}.Encode(), bearer(memberTok))
	serveSubscribe(t, h.base, "topic=https://example.com/rooms/{id}", nil) // draft 07: announced only in draft-07 form
	var events []subscriptionDoc
	for range 2 {
		ev := watcher.next(t)
		if ev.Type != "mercure" || ev.ID != "" {
			t.Errorf("subscription event with type %q and id %q, want type mercure and no id", ev.Type, ev.ID)
		}
		var d subscriptionDoc
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			t.Fatalf("%q: %v", ev.Data, err)
		}
		events = append(events, d)
	}
	slices.SortFunc(events, func(a, b subscriptionDoc) int { return strings.Compare(a.Match, b.Match) })
	sub := events[0].Subscriber
	wantEvents := []subscriptionDoc{
		{ID: mercure.Path + "/subscriptions/exact/https%3A%2F%2Fexample.com%2Flobby/" + url.QueryEscape(sub), Type: "subscription",
			MatchType: "exact", Match: "https://example.com/lobby", Subscriber: sub, Active: true},
		{ID: mercure.Path + "/subscriptions/urlpattern/https%3A%2F%2Fexample.com%2Frooms%2F%3Aid/" + url.QueryEscape(sub), Type: "subscription",
			MatchType: "urlpattern", Match: "https://example.com/rooms/:id", Subscriber: sub, Active: true, Payload: json.RawMessage(`{"user":"ann"}`)},
	}
	for i := range wantEvents {
		if mustJSON(events[i]) != mustJSON(wantEvents[i]) {
			t.Errorf("subscription event:\n got %s\nwant %s", mustJSON(events[i]), mustJSON(wantEvents[i]))
		}
	}
	if !strings.HasPrefix(sub, "urn:uuid:") {
		t.Errorf("subscriber id %q is not a urn:uuid", sub)
	}

	// The API.
	get := func(path string, hdr http.Header) (*http.Response, string) {
		return serveGet(t, h.base+path, hdr)
	}
	resp, body := get(mercure.Path+"/subscriptions", bearer(watcherTok))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("API: %s %s %q", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	link := resp.Header.Get("Link")
	if want := "<" + h.hubURL08() + `>; rel="mercure"; last-event-id="` + herald.EarliestID + `"; type="mercure"; content-type="application/json"`; link != want {
		t.Errorf("Link: %q, want %q", link, want)
	}
	var list struct {
		ID            string            `json:"id"`
		Type          string            `json:"type"`
		Subscriptions []subscriptionDoc `json:"subscriptions"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list.ID != mercure.Path+"/subscriptions" || list.Type != "subscriptions" || len(list.Subscriptions) != 3 {
		t.Errorf("collection: %s", body)
	}
	for _, s := range list.Subscriptions {
		if s.MatchType == "" {
			t.Errorf("the draft-08 API lists a draft-07 subscription: %+v", s)
		}
	}
	if resp, body := get(strings.TrimPrefix(events[1].ID, "")+"", bearer(watcherTok)); resp.StatusCode != http.StatusOK || mustJSON(decodeDoc(t, body)) != mustJSON(events[1]) {
		t.Errorf("one subscription: %s %q, want %s", resp.Status, body, mustJSON(events[1]))
	}
	perMatcher := mercure.Path + "/subscriptions/exact/https%3A%2F%2Fexample.com%2Flobby"
	if resp, body := get(perMatcher, bearer(watcherTok)); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"match":"https://example.com/lobby"`) || strings.Contains(body, "rooms") {
		t.Errorf("a matcher's subscriptions: %s %q", resp.Status, body)
	}
	if resp, body := get(mercure.Path+"/subscriptions/exact/x/urn:uuid:nobody", bearer(watcherTok)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown subscription: %s %q, want 404", resp.Status, body)
	}
	resp, body = get(mercure.Path+"/subscriptions", bearer(memberTok))
	wantChallenge(t, "a token not granting the path", resp, body, http.StatusForbidden, auth.CodeInsufficientScope, h.metadataURL08())
	resp, body = get(mercure.Path+"/subscriptions", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata") {
		t.Errorf("no token: %s %q, challenge %q", resp.Status, body, resp.Header.Get("WWW-Authenticate"))
	}
	// The draft-07 API lists draft-07 subscriptions only.
	_, body = get(mercure.Path+"/subscriptions", bearer(serveToken(t, serveTestKey, auth.Grant{Subscribe: []string{"*"}})))
	if strings.Contains(body, "lobby") || !strings.Contains(body, "rooms/{id}") {
		t.Errorf("draft-07 API: %s", body)
	}

	// The member leaves: its matchers' subscriptions end.
	member.resp.Body.Close()
	var ended []subscriptionDoc
	for len(ended) < 2 {
		d := decodeDoc(t, watcher.next(t).Data)
		if d.Subscriber == sub {
			ended = append(ended, d)
		}
	}
	for _, d := range ended {
		if d.Active {
			t.Errorf("event after the subscriber left: %+v, want active false", d)
		}
	}
}

func decodeDoc(t *testing.T, s string) subscriptionDoc {
	t.Helper()
	var d subscriptionDoc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return d
}
