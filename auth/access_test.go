package auth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/topic"
)

const (
	hub      = "https://hub.example.com/.well-known/mercure"
	issuerA  = "https://example.com"
	issuerB  = "https://idp.example.net"
	hsSecret = "0123456789abcdef0123456789abcdef"
)

func mustAccessVerifier(t testing.TB, cfg auth.AccessConfig) *auth.AccessVerifier {
	t.Helper()
	v, err := auth.NewAccessVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// twoIssuers trusts issuerA (ES256, P-256 key) and issuerB (EdDSA key).
func twoIssuers(t testing.TB) *auth.AccessVerifier {
	keys := testKeys()
	return mustAccessVerifier(t, auth.AccessConfig{Issuers: []auth.Issuer{
		{ID: issuerA, Keys: [][]byte{keys["p256"].pubPEM}},
		{ID: issuerB, Keys: [][]byte{keys["ed25519"].pubPEM}},
	}})
}

func mustSignAccess(t testing.TB, g auth.AccessGrant) string {
	t.Helper()
	if g.Issuer == "" {
		g.Issuer = issuerA
	}
	if g.Audience == "" {
		g.Audience = hub
	}
	if g.TTL == 0 {
		g.TTL = time.Hour
	}
	tok, err := auth.SignAccess("ES256", testKeys()["p256"].privPEM, g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// accessClaims returns valid draft-8 claims of issuerA for hub, with the
// given authorization_details (left out when nil).
func accessClaims(details any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": issuerA, "aud": hub, "sub": "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
		"client_id": issuerA, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"jti": "urn:uuid:e70ff8d7-59d5-4a92-b0b7-505e8f6d09fa",
	}
	if details != nil {
		c["authorization_details"] = details
	}
	return c
}

// signAT signs claims as issuerA's access token (typ at+jwt, ES256), with
// header changes applied.
func signAT(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "at+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(testKeys()["p256"].priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mercureDetail(actions []string, topics ...map[string]any) map[string]any {
	return map[string]any{"type": auth.DetailType, "actions": actions, "topics": topics}
}

func exact(m string) map[string]any { return map[string]any{"match": m} }
func pattern(m string) map[string]any {
	return map[string]any{"match": m, "match_type": topic.MatchURLPattern}
}

func TestAccessVerify(t *testing.T) {
	v := twoIssuers(t)
	tok := mustSignAccess(t, auth.AccessGrant{
		Subject: "urn:uuid:1", ClientID: "client-1", KeyID: "k1",
		Details: []auth.DetailGrant{
			{Actions: []string{auth.ActionPublish}, Topics: []auth.MatcherGrant{{Match: "https://example.com/books/:id", MatchType: topic.MatchURLPattern}}},
			{Actions: []string{auth.ActionSubscribe}, Topics: []auth.MatcherGrant{{Match: "https://example.com/foo"}}, Payload: map[string]string{"custom1": "foo"}},
			{Actions: []string{auth.ActionSubscribe}, Topics: []auth.MatcherGrant{{Match: "https://example.com/bar/:id", MatchType: topic.MatchURLPattern}}, Payload: map[string]string{"custom2": "bar"}},
			{Actions: []string{auth.ActionSubscribe, "future-action"}, Topics: []auth.MatcherGrant{{Match: "*"}}, Payload: map[string]string{"custom3": "default"}},
		},
	})
	c, err := v.Verify(tok, hub)
	if err != nil {
		t.Fatal(err)
	}
	if c.Draft != 8 || len(c.Details) != 4 || c.Issuer != issuerA || c.Subject != "urn:uuid:1" || c.ClientID != "client-1" ||
		!strings.HasPrefix(c.TokenID, "urn:uuid:") || len(c.Audience) != 1 || c.Audience[0] != hub || c.IssuedAt.IsZero() {
		t.Errorf("claims = %+v", c)
	}
	if d := time.Until(c.ExpiresAt); d <= 58*time.Minute || d > time.Hour {
		t.Errorf("ExpiresAt is %v from now", d)
	}
	for _, tt := range []struct {
		topics []string
		want   bool
	}{
		{[]string{"https://example.com/books/1"}, true},
		{[]string{"https://example.com/books/1", "https://example.com/books/2"}, true},
		{[]string{"https://example.com/books/1", "https://example.com/authors/1"}, false}, // every topic must be granted
		{[]string{"https://example.com/foo"}, false},                                      // subscribe grants no publish
		{nil, false},
	} {
		if got := c.CanPublish(tt.topics); got != tt.want {
			t.Errorf("CanPublish(%q) = %v, want %v", tt.topics, got, tt.want)
		}
	}
	if !c.CanReceive([]string{"anything"}) {
		t.Error(`CanReceive: the "*" subscribe detail grants every topic`)
	}
	// The first subscribe detail matching the subscription's matcher
	// (read as a topic) gives its payload.
	for match, want := range map[string]string{
		"https://example.com/foo":     `{"custom1":"foo"}`,
		"https://example.com/bar/:id": `{"custom2":"bar"}`,
		"https://example.com/bar/1":   `{"custom2":"bar"}`,
		"https://example.com/other":   `{"custom3":"default"}`,
	} {
		if got := string(c.PayloadFor(match)); got != want {
			t.Errorf("PayloadFor(%q) = %s, want %s", match, got, want)
		}
	}
}

func TestAccessSubscriberGrants(t *testing.T) {
	// The two examples of draft-08 "Subscribers".
	v := twoIssuers(t)
	c, err := v.Verify(signAT(t, accessClaims([]any{mercureDetail([]string{"subscribe"},
		map[string]any{"match": "https://example.com/books/1", "match_type": "exact"}, exact("https://example.com/books/7"))}), nil), hub)
	if err != nil {
		t.Fatal(err)
	}
	if !c.CanReceive([]string{"https://example.com/books/1"}) || c.CanReceive([]string{"https://example.com/books/2"}) {
		t.Error("exact subscribe grants: books/1 must be received, books/2 not")
	}
	if c.CanPublish([]string{"https://example.com/books/1"}) {
		t.Error("a subscribe grant allows publishing")
	}

	c, err = v.Verify(signAT(t, accessClaims([]any{mercureDetail([]string{"subscribe"}, pattern("https://example.com/users/42/*"))}), nil), hub)
	if err != nil {
		t.Fatal(err)
	}
	if c.CanReceive([]string{"https://example.com/books/1"}) || !c.CanReceive([]string{"https://example.com/books/1", "https://example.com/users/42/books/1"}) {
		t.Error("alternate topics: the grant on the alternate topic must authorize the update, and only it")
	}

	// A token without Mercure details is valid and grants nothing.
	c, err = v.Verify(signAT(t, accessClaims([]any{map[string]any{"type": "https://other.example/api", "actions": []string{"read"}}}), nil), hub)
	if err != nil || c.CanReceive([]string{"x"}) || c.CanPublish([]string{"x"}) || c.PayloadFor("x") != nil {
		t.Errorf("token with only foreign details: %v, %+v", err, c)
	}
	c, err = v.Verify(signAT(t, accessClaims(nil), nil), hub)
	if err != nil || c.CanReceive([]string{"x"}) || c.CanPublish([]string{"x"}) {
		t.Errorf("token without authorization_details: %v, %+v", err, c)
	}
}

func TestAccessRelativePatterns(t *testing.T) {
	// Relative URL patterns resolve against the resource identifier when
	// it is the hub's URL: subscription events and the subscriptions API.
	v := twoIssuers(t)
	claims := accessClaims([]any{mercureDetail([]string{"subscribe"}, pattern("/.well-known/mercure/subscriptions/*"))})
	claims["aud"] = []string{"urn:other", hub}
	c, err := v.Verify(signAT(t, claims, nil), hub)
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]bool{
		"/.well-known/mercure/subscriptions/exact/a/b":                              true,
		"https://hub.example.com/.well-known/mercure/subscriptions":                 false,
		"https://hub.example.com/.well-known/mercure/subscriptions/urlpattern/x/y":  true,
		"https://evil.example.com/.well-known/mercure/subscriptions/urlpattern/x/y": false,
	} {
		if got := c.CanReceive([]string{topic}); got != want {
			t.Errorf("CanReceive(%q) = %v, want %v", topic, got, want)
		}
	}
	// A resource identifier that is not a URL: relative patterns still
	// match relative topics, against DefaultPatternBase.
	claims["aud"] = "urn:herald:hub"
	c, err = v.Verify(signAT(t, claims, nil), "urn:herald:hub")
	if err != nil || !c.CanReceive([]string{"/.well-known/mercure/subscriptions/exact/a/b"}) {
		t.Errorf("non-URL resource: %v", err)
	}
}

func TestAccessTokenValidation(t *testing.T) {
	v := twoIssuers(t)
	keys := testKeys()
	good := accessClaims([]any{mercureDetail([]string{"publish"}, exact("*"))})
	with := func(k string, val any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for key, v := range good {
			c[key] = v
		}
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	signB := func(claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
		tok.Header["typ"] = "at+jwt"
		s, err := tok.SignedString(keys["ed25519"].priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Accepted variants.
	for name, tok := range map[string]string{
		"typ application/at+jwt": signAT(t, good, map[string]any{"typ": "application/at+jwt"}),
		"typ AT+JWT":             signAT(t, good, map[string]any{"typ": "AT+JWT"}),
		"aud array":              signAT(t, with("aud", []string{"urn:a", hub}), nil),
		"issuer B, its key":      signB(with("iss", issuerB)),
		"no sub, jti, iat":       signAT(t, with("sub", nil), nil),
	} {
		if _, err := v.Verify(tok, hub); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	future := time.Now().Add(time.Hour).Unix()
	for _, tt := range []struct {
		name, tok, why string
	}{
		{"no typ", signAT(t, good, map[string]any{"typ": nil}), `typ header) is "", not "at+jwt"`},
		{"typ JWT (an ID token)", signAT(t, good, map[string]any{"typ": "JWT"}), `is "JWT", not "at+jwt"`},
		{"draft-07 token", mustSign(t, "ES256", keys["p256"].privPEM, auth.Grant{Publish: []string{"*"}, TTL: time.Hour}), `not "at+jwt"`},
		{"no iss", signAT(t, with("iss", nil), nil), "token has no iss claim"},
		{"unknown iss", signAT(t, with("iss", "https://evil.example"), nil), `issuer "https://evil.example" is not trusted`},
		{"iss A signed by B's key", signB(good), "unexpected alg \"EdDSA\" for issuer \"https://example.com\""},
		{"iss B signed by A's key", signAT(t, with("iss", issuerB), nil), "unexpected alg \"ES256\" for issuer \"https://idp.example.net\""},
		{"none", signKid(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", good), `unexpected alg "none"`},
		{"HS256", signKid(t, jwt.SigningMethodHS256, []byte(hsSecret), "", good), `unexpected alg "HS256"`},
		{"bad signature", signAT(t, good, nil) + "A", "invalid signature"},
		{"no exp", signAT(t, with("exp", nil), nil), "token has no exp claim"},
		{"expired", signAT(t, with("exp", time.Now().Add(-time.Minute).Unix()), nil), "token expired at"},
		{"nbf in the future", signAT(t, with("nbf", future), nil), "not valid before"},
		{"no aud", signAT(t, with("aud", nil), nil), `audience does not include "` + hub + `"`},
		{"other aud", signAT(t, with("aud", "https://other.example.com/.well-known/mercure"), nil), "audience does not include"},
		{"malformed", "not.a.jwt", "malformed token"},
		{"empty", "", "no token"},
		{"too long", strings.Repeat("a", auth.MaxTokenLength+1), "the limit is"},
	} {
		_, err := v.Verify(tt.tok, hub)
		wantUnauthorized(t, tt.name, err, tt.why)
		if status, code, _ := auth.BearerError(err); status != http.StatusUnauthorized || (code != auth.CodeInvalidToken && tt.name != "empty") {
			t.Errorf("%s: BearerError = %d %q, want 401 invalid_token", tt.name, status, code)
		}
	}
	if _, err := v.Verify("", hub); !errors.Is(err, auth.ErrNoToken) {
		t.Errorf("empty token: %v does not wrap ErrNoToken", err)
	}
	if _, err := v.Verify(signAT(t, good, nil), ""); !errors.Is(err, herald.ErrUnauthorized) {
		t.Errorf("no resource identifier: %v", err)
	}
}

func TestAccessAudienceIsPerCall(t *testing.T) {
	// The same token, verified (and cached) for its hub, is refused for
	// another: the resource identifier is part of the cache key.
	v := twoIssuers(t)
	tok := signAT(t, accessClaims(nil), nil)
	for range 2 {
		if _, err := v.Verify(tok, hub); err != nil {
			t.Fatal(err)
		}
		wantUnauthorized(t, "other hub", errOf(v.Verify(tok, "https://other.example.com/.well-known/mercure")), "audience does not include")
	}
}

func errOf(_ *auth.Claims, err error) error { return err }

func TestAccessAuthorizationDetailsShapes(t *testing.T) {
	v := mustAccessVerifier(t, auth.AccessConfig{
		Issuers:    []auth.Issuer{{ID: issuerA, Keys: [][]byte{testKeys()["p256"].pubPEM}}},
		MaxDetails: 2, MaxDetailTopics: 3,
	})
	ok := mercureDetail([]string{"subscribe"}, exact("a"))
	for _, tt := range []struct {
		name    string
		details any
		why     string
	}{
		{"not an array", map[string]any{"type": auth.DetailType}, "authorization_details is not a JSON array"},
		{"null", json.RawMessage("null"), "not a JSON array"},
		{"entry not an object", []any{"publish"}, "authorization_details[0] is not a JSON object"},
		{"entry without type", []any{map[string]any{"actions": []string{"publish"}}}, "authorization_details[0] has no string type"},
		{"no actions", []any{map[string]any{"type": auth.DetailType, "topics": []any{exact("a")}}}, "actions must be a non-empty array"},
		{"empty actions", []any{mercureDetail([]string{}, exact("a"))}, "actions must be a non-empty array"},
		{"non-string action", []any{map[string]any{"type": auth.DetailType, "actions": []any{"publish", 1}, "topics": []any{exact("a")}}}, "actions[1] is not a string"},
		{"no topics", []any{map[string]any{"type": auth.DetailType, "actions": []string{"publish"}}}, "topics must be a non-empty array"},
		{"empty topics", []any{mercureDetail([]string{"publish"})}, "topics must be a non-empty array"},
		{"bare string topic", []any{map[string]any{"type": auth.DetailType, "actions": []string{"publish"}, "topics": []any{"https://example.com/a"}}}, "topics[0] is not an object"},
		{"topic without match", []any{mercureDetail([]string{"publish"}, map[string]any{"match_type": "exact"})}, "topics[0] has no match"},
		{"non-string match", []any{mercureDetail([]string{"publish"}, map[string]any{"match": 1})}, "topics[0] is not an object"},
		{"match_type in capitals", []any{mercureDetail([]string{"publish"}, map[string]any{"match": "a", "match_type": "Exact"})}, `unsupported matcher type "Exact"`},
		{"unsupported match_type", []any{mercureDetail([]string{"publish"}, map[string]any{"match": "a", "match_type": "uritemplate"})}, "unsupported matcher type"},
		{"invalid URL pattern", []any{mercureDetail([]string{"publish"}, pattern("https://example.com/("))}, "not a valid URL pattern"},
		{"control character", []any{mercureDetail([]string{"publish"}, exact("a\u0000"))}, "control character"},
		{"payload not an object", []any{map[string]any{"type": auth.DetailType, "actions": []string{"subscribe"}, "topics": []any{exact("a")}, "payload": "x"}}, "payload is not a JSON object"},
		{"too many details", []any{ok, ok, ok}, "more than 2 Mercure authorization details"},
		{"too many topics", []any{mercureDetail([]string{"publish"}, exact("a"), exact("b"), exact("c"), exact("d"))}, "4 topic matchers, the limit is 3"},
		{"one bad among good", []any{ok, mercureDetail([]string{"publish"})}, "authorization_details[1]"},
	} {
		_, err := v.Verify(signAT(t, accessClaims(tt.details), nil), hub)
		wantUnauthorized(t, tt.name, err, tt.why)
	}
	// Foreign details do not count toward the limit; unknown actions and
	// members are ignored.
	foreign := map[string]any{"type": "https://other.example/api", "anything": true}
	c, err := v.Verify(signAT(t, accessClaims([]any{foreign, ok, foreign, mercureDetail([]string{"delete", "publish"}, map[string]any{"match": "b", "extra": 1})}), nil), hub)
	if err != nil || !c.CanPublish([]string{"b"}) || c.CanReceive([]string{"b"}) || !c.CanReceive([]string{"a"}) {
		t.Errorf("foreign details and unknown actions: %v, %+v", err, c)
	}
}

func TestAccessExpiryWhileCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := twoIssuers(t)
		tok := mustSignAccess(t, auth.AccessGrant{TTL: time.Minute})
		if _, err := v.Verify(tok, hub); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		wantUnauthorized(t, "cached token at exp", errOf(v.Verify(tok, hub)), "token expired at")
	})
}

func TestAccessIssuerKeySets(t *testing.T) {
	keys := testKeys()
	srvA := newJWKSServer(t, jwkOf(t, keys["rsa"].priv, "a1", ""))
	srvB := newJWKSServer(t, jwkOf(t, keys["rsa2"].priv, "b1", ""))
	v := mustAccessVerifier(t, auth.AccessConfig{Issuers: []auth.Issuer{
		{ID: issuerA, KeySet: mustKeySet(t, srvA.config())},
		{ID: issuerB, KeySet: mustKeySet(t, srvB.config())},
	}})
	sign := func(iss string, priv any, kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, with(accessClaims(nil), "iss", iss))
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
		s, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := v.Verify(sign(issuerA, keys["rsa"].priv, "a1"), hub); err != nil {
		t.Errorf("issuer A with its key: %v", err)
	}
	if _, err := v.Verify(sign(issuerB, keys["rsa2"].priv, "b1"), hub); err != nil {
		t.Errorf("issuer B with its key: %v", err)
	}
	// Never a pooled set: B's key, even named by its kid, does not verify
	// a token claiming to be A's.
	wantUnauthorized(t, "A's iss, B's key and kid", errOf(v.Verify(sign(issuerA, keys["rsa2"].priv, "b1"), hub)), `unknown kid "b1": no key of issuer "https://example.com"`)
	wantUnauthorized(t, "A's iss, B's key", errOf(v.Verify(sign(issuerA, keys["rsa2"].priv, "a1"), hub)), "invalid signature")
	if st := v.KeySets(); len(st) != 2 || st[0].URL != srvA.config().URL || st[1].URL != srvB.config().URL {
		t.Errorf("KeySets() = %+v", st)
	}
	if got := v.Issuers(); len(got) != 2 || got[0] != issuerA {
		t.Errorf("Issuers() = %q", got)
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	return c
}

func TestNewAccessVerifierErrors(t *testing.T) {
	key := testKeys()["p256"].pubPEM
	for _, tt := range []struct {
		cfg  auth.AccessConfig
		want string
	}{
		{auth.AccessConfig{}, "no trusted token issuer"},
		{auth.AccessConfig{Issuers: []auth.Issuer{{Keys: [][]byte{key}}}}, "an issuer has no ID"},
		{auth.AccessConfig{Issuers: []auth.Issuer{{ID: issuerA, Keys: [][]byte{key}}, {ID: issuerA, Keys: [][]byte{key}}}}, "configured twice"},
		{auth.AccessConfig{Issuers: []auth.Issuer{{ID: issuerA}}}, `issuer "https://example.com": herald: invalid: no JWT verification key`},
		{auth.AccessConfig{Issuers: []auth.Issuer{{ID: issuerA, Keys: [][]byte{key}, Algs: []string{"RS256"}}}}, `issuer "https://example.com" key 1 is an ECDSA P-256 public key, which cannot verify`},
	} {
		_, err := auth.NewAccessVerifier(tt.cfg)
		if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error = %v, want herald.ErrInvalid containing %q", err, tt.want)
		}
	}
}

func TestSignAccessErrors(t *testing.T) {
	key := testKeys()["p256"].privPEM
	for _, tt := range []struct {
		g    auth.AccessGrant
		want string
	}{
		{auth.AccessGrant{Audience: hub, TTL: time.Hour}, "needs an issuer"},
		{auth.AccessGrant{Issuer: issuerA, TTL: time.Hour}, "needs an audience"},
		{auth.AccessGrant{Issuer: issuerA, Audience: hub}, "positive TTL"},
		{auth.AccessGrant{Issuer: issuerA, Audience: hub, TTL: time.Hour, Details: []auth.DetailGrant{{Topics: []auth.MatcherGrant{{Match: "(", MatchType: "urlpattern"}}}}}, "not a valid URL pattern"},
	} {
		if _, err := auth.SignAccess("", key, tt.g); !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error = %v, want %q", tt.g, err, tt.want)
		}
	}
	if _, err := auth.SignAccess("RS256", key, auth.AccessGrant{Issuer: issuerA, Audience: hub, TTL: time.Hour}); !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("RS256 with an EC key: %v", err)
	}
}

// FuzzAccessDetails verifies tokens carrying arbitrary authorization_details
// JSON: no panic, and a refusal always wraps herald.ErrUnauthorized.
func FuzzAccessDetails(f *testing.F) {
	for _, s := range []string{
		`[{"type":"https://mercure.rocks/authorization-detail","actions":["publish"],"topics":[{"match":"*"}]}]`,
		`[{"type":"https://mercure.rocks/authorization-detail","actions":["subscribe"],"topics":[{"match":"https://example.com/:id","match_type":"urlpattern"}],"payload":{"a":1}}]`,
		`[{"type":"x"}]`, `{}`, `null`, `[1]`, `[{"type":1}]`,
	} {
		f.Add(s, "https://example.com/1")
	}
	v := mustAccessVerifier(f, auth.AccessConfig{Issuers: []auth.Issuer{{ID: issuerA, Keys: [][]byte{[]byte(hsSecret)}}}, CacheSize: -1})
	f.Fuzz(func(t *testing.T, details, topic string) {
		if !json.Valid([]byte(details)) {
			return
		}
		claims := accessClaims(json.RawMessage(details))
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["typ"] = "at+jwt"
		s, err := tok.SignedString([]byte(hsSecret))
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(s, hub)
		if err != nil {
			if !errors.Is(err, herald.ErrUnauthorized) {
				t.Fatalf("error %v does not wrap herald.ErrUnauthorized", err)
			}
			return
		}
		c.CanPublish([]string{topic})
		c.CanReceive([]string{topic})
		c.PayloadFor(topic)
	})
}
