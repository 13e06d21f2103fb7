package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/topic"
)

const secret = "!ChangeThisMercureHubJWTSecretKey!"

func mustVerifier(t testing.TB, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustSign(t testing.TB, alg string, key []byte, g auth.Grant) string {
	t.Helper()
	tok, err := auth.Sign(alg, key, g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signRaw signs arbitrary claims with the jwt library, as a third-party
// token issuer would.
func signRaw(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantUnauthorized checks that err wraps herald.ErrUnauthorized and says why.
func wantUnauthorized(t *testing.T, what string, err error, why string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: Verify succeeded, want an error containing %q", what, why)
		return
	}
	if !errors.Is(err, herald.ErrUnauthorized) {
		t.Errorf("%s: error %v does not wrap herald.ErrUnauthorized", what, err)
	}
	if !strings.Contains(err.Error(), why) {
		t.Errorf("%s: error = %q, want it to contain %q", what, err, why)
	}
}

func TestSignVerifyEveryAlgorithm(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		alg             string
		signKey, verKey []byte
	}{
		{"HS256", []byte(secret), []byte(secret)},
		{"HS384", []byte(secret), []byte(secret)},
		{"HS512", []byte(secret), []byte(secret)},
		{"RS256", keys["rsa"].privPEM, keys["rsa"].pubPEM},
		{"RS512", keys["rsa"].privPEM, keys["rsa"].pubPEM},
		{"PS256", keys["rsa"].privPEM, keys["rsa"].pubPEM},
		{"RS256", keys["rsa"].privPEM, certPEM(t, keys["rsa"])},
		{"RS256", keys["rsa"].privPEM, keys["rsa"].privPEM}, // public half of a private key
		{"ES256", keys["p256"].privPEM, keys["p256"].pubPEM},
		{"ES256", keys["p256"].privPEM, certPEM(t, keys["p256"])},
		{"ES384", keys["p384"].privPEM, keys["p384"].pubPEM},
		{"ES512", keys["p521"].privPEM, keys["p521"].pubPEM},
		{"EdDSA", keys["ed25519"].privPEM, keys["ed25519"].pubPEM},
		{"", keys["p256"].privPEM, keys["p256"].pubPEM}, // default alg
	}
	for _, tt := range tests {
		v := mustVerifier(t, auth.Config{Keys: [][]byte{tt.verKey}})
		tok := mustSign(t, tt.alg, tt.signKey, auth.Grant{
			Publish:   []string{"https://example.com/books/{id}"},
			Subscribe: []string{"https://example.com/users/1", "https://example.com/books/{id}"},
			Payload:   map[string]any{"user": "https://example.com/users/1"},
			Subject:   "alice",
			TTL:       time.Hour,
		})
		c, err := v.Verify(tok)
		if err != nil {
			t.Errorf("%s: Verify: %v", tt.alg, err)
			continue
		}
		if got := selectorStrings(c.Publish); got != "https://example.com/books/{id}" {
			t.Errorf("%s: Publish = %q", tt.alg, got)
		}
		if got := selectorStrings(c.Subscribe); got != "https://example.com/users/1 https://example.com/books/{id}" {
			t.Errorf("%s: Subscribe = %q", tt.alg, got)
		}
		if got := string(c.Payload); got != `{"user":"https://example.com/users/1"}` {
			t.Errorf("%s: Payload = %s", tt.alg, got)
		}
		if c.Subject != "alice" {
			t.Errorf("%s: Subject = %q", tt.alg, c.Subject)
		}
		if d := time.Until(c.ExpiresAt); d <= 58*time.Minute || d > time.Hour {
			t.Errorf("%s: ExpiresAt is %v from now, want about 1h", tt.alg, d)
		}
		if !c.CanPublish([]string{"https://example.com/books/7"}) || c.CanPublish([]string{"https://example.com/users/1"}) {
			t.Errorf("%s: CanPublish does not follow the publish claim", tt.alg)
		}
	}
}

func selectorStrings(sels []*topic.Selector) string {
	s := make([]string, len(sels))
	for i, sel := range sels {
		s[i] = sel.String()
	}
	return strings.Join(s, " ")
}

func TestRejectsNone(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
	claims := jwt.MapClaims{"mercure": map[string]any{"publish": []string{"*"}}}
	unsigned := signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims)
	_, err := v.Verify(unsigned)
	wantUnauthorized(t, "alg none", err, `unexpected alg "none" (allowed: HS256, HS384, HS512)`)
	if !errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("alg none: %v should wrap jwt.ErrTokenSignatureInvalid only", err)
	}

	// "none" with a signature copied from a real token, and "None".
	real := mustSign(t, "HS256", []byte(secret), auth.Grant{Publish: []string{"*"}})
	_, payload, sig := split3(real)
	for _, alg := range []string{"none", "None", "NONE"} {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
		_, err := v.Verify(header + "." + payload + "." + sig)
		wantUnauthorized(t, "alg "+alg, err, "unexpected alg")
	}
}

func split3(tok string) (string, string, string) {
	p := strings.Split(tok, ".")
	return p[0], p[1], p[2]
}

// TestAlgorithmConfusion is the classic attack: the hub holds an RSA (or EC)
// public key, which is public; the attacker signs an HS256 token using the
// PEM text of that key as the HMAC secret.
func TestAlgorithmConfusion(t *testing.T) {
	keys := testKeys()
	claims := jwt.MapClaims{"mercure": map[string]any{"publish": []string{"*"}}}
	for _, name := range []string{"rsa", "p256"} {
		pub := keys[name].pubPEM
		forged := signRaw(t, jwt.SigningMethodHS256, pub, claims)

		v := mustVerifier(t, auth.Config{Keys: [][]byte{pub}})
		_, err := v.Verify(forged)
		wantUnauthorized(t, name+" key only", err, `unexpected alg "HS256"`)

		// Even when HS256 is allowed because an HMAC secret is also
		// configured, the public key is never used as an HMAC secret.
		v = mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret), pub}, Algs: []string{"HS256", "RS256", "ES256"}})
		_, err = v.Verify(forged)
		wantUnauthorized(t, name+" key and a secret", err, "invalid signature")
	}

	// The other way round: an ES256 token is refused by an HMAC-only hub.
	es := mustSign(t, "ES256", keys["p256"].privPEM, auth.Grant{Publish: []string{"*"}})
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
	_, err := v.Verify(es)
	wantUnauthorized(t, "ES256 token, HMAC key", err, `unexpected alg "ES256"`)

	// An allow-list narrower than the key type: RS512 is refused.
	rs512 := mustSign(t, "RS512", keys["rsa"].privPEM, auth.Grant{Publish: []string{"*"}})
	v = mustVerifier(t, auth.Config{Keys: [][]byte{keys["rsa"].pubPEM}, Algs: []string{"RS256"}})
	_, err = v.Verify(rs512)
	wantUnauthorized(t, "RS512 not allowed", err, `unexpected alg "RS512" (allowed: RS256)`)
}

func TestWrongKey(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		name   string
		tok    string
		verKey []byte
	}{
		{"HS256", mustSign(t, "HS256", []byte("another secret"), auth.Grant{}), []byte(secret)},
		{"RS256", mustSign(t, "RS256", keys["rsa2"].privPEM, auth.Grant{}), keys["rsa"].pubPEM},
		{"ES256", mustSign(t, "ES256", keys["p256"].privPEM, auth.Grant{}), newP256(t).pubPEM},
	}
	for _, tt := range tests {
		v := mustVerifier(t, auth.Config{Keys: [][]byte{tt.verKey}})
		_, err := v.Verify(tt.tok)
		wantUnauthorized(t, tt.name, err, "invalid signature")
	}

	// A tampered payload: claims changed after signing.
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
	tok := mustSign(t, "HS256", []byte(secret), auth.Grant{Publish: []string{"https://example.com/a"}})
	h, _, sig := split3(tok)
	evil := base64.RawURLEncoding.EncodeToString([]byte(`{"mercure":{"publish":["*"]}}`))
	_, err := v.Verify(h + "." + evil + "." + sig)
	wantUnauthorized(t, "tampered", err, "invalid signature")
}

func TestKeyRotation(t *testing.T) {
	keys := testKeys()
	v := mustVerifier(t, auth.Config{Keys: [][]byte{
		[]byte("old secret"), []byte("new secret"),
		keys["rsa"].pubPEM, keys["rsa2"].pubPEM,
		keys["p256"].pubPEM,
	}})
	for _, tt := range []struct {
		alg string
		key []byte
	}{
		{"HS256", []byte("old secret")},
		{"HS256", []byte("new secret")},
		{"RS256", keys["rsa"].privPEM},
		{"RS256", keys["rsa2"].privPEM},
		{"ES256", keys["p256"].privPEM},
	} {
		if _, err := v.Verify(mustSign(t, tt.alg, tt.key, auth.Grant{Subscribe: []string{"*"}})); err != nil {
			t.Errorf("%s token from one of the rotated keys: %v", tt.alg, err)
		}
	}
	_, err := v.Verify(mustSign(t, "HS256", []byte("retired secret"), auth.Grant{}))
	wantUnauthorized(t, "retired secret", err, "invalid signature")
}

func TestMalformed(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
	tok := mustSign(t, "HS256", []byte(secret), auth.Grant{})
	h, p, s := split3(tok)
	b64 := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		tok, want string
	}{
		{"", "no token"},
		{"abc", "malformed token"},
		{"a.b", "malformed token"},
		{h + "." + p, "malformed token"},
		{"!!!." + p + "." + s, "malformed token"},
		{h + ".!!!." + s, "malformed token"},
		{h + "." + p + ".***", "malformed token"},
		{b64([]byte(`{"typ":"JWT"}`)) + "." + p + "." + s, "no alg in header"},
		{b64([]byte(`{"alg":"XX999"}`)) + "." + p + "." + s, `unexpected alg "XX999"`},
		{h + "." + b64([]byte(`{"exp":"tomorrow"}`)) + "." + s, "malformed token"},
		{h + "." + b64([]byte(`{"mercure":{"publish":"*"}}`)) + "." + s, "malformed token"},
		{strings.Repeat("a", auth.MaxTokenLength+1), "the limit is"},
	}
	for _, tt := range tests {
		_, err := v.Verify(tt.tok)
		wantUnauthorized(t, fmt.Sprintf("%.40q", tt.tok), err, tt.want)
	}
}

func TestClaimsShapes(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
	tests := []struct {
		name               string
		mercure            any // the "mercure" claim; nil leaves it out
		publish, subscribe string
		pubNil, subNil     bool
		payload            string
	}{
		{name: "no mercure claim", pubNil: true, subNil: true},
		{name: "mercure null", mercure: json.RawMessage("null"), pubNil: true, subNil: true},
		{name: "empty mercure", mercure: map[string]any{}, pubNil: true, subNil: true},
		{name: "publish null", mercure: json.RawMessage(`{"publish":null,"subscribe":["*"]}`), pubNil: true, subscribe: "*"},
		{name: "empty lists", mercure: json.RawMessage(`{"publish":[],"subscribe":[]}`)},
		{name: "star", mercure: json.RawMessage(`{"publish":["*"]}`), publish: "*", subNil: true},
		{name: "payload", mercure: json.RawMessage(`{"subscribe":["a"],"payload":{"x":[1,2]}}`), pubNil: true, subscribe: "a", payload: `{"x":[1,2]}`},
		{name: "payload null", mercure: json.RawMessage(`{"payload":null}`), pubNil: true, subNil: true},
		{name: "payload string", mercure: json.RawMessage(`{"payload":"hi"}`), pubNil: true, subNil: true, payload: `"hi"`},
	}
	for _, tt := range tests {
		claims := jwt.MapClaims{"sub": "bob"}
		if tt.mercure != nil {
			claims["mercure"] = tt.mercure
		}
		c, err := v.Verify(signRaw(t, jwt.SigningMethodHS256, []byte(secret), claims))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if (c.Publish == nil) != tt.pubNil || selectorStrings(c.Publish) != tt.publish {
			t.Errorf("%s: Publish = %#v (%q), want nil=%v %q", tt.name, c.Publish, selectorStrings(c.Publish), tt.pubNil, tt.publish)
		}
		if (c.Subscribe == nil) != tt.subNil || selectorStrings(c.Subscribe) != tt.subscribe {
			t.Errorf("%s: Subscribe = %#v (%q), want nil=%v %q", tt.name, c.Subscribe, selectorStrings(c.Subscribe), tt.subNil, tt.subscribe)
		}
		if string(c.Payload) != tt.payload {
			t.Errorf("%s: Payload = %q, want %q", tt.name, c.Payload, tt.payload)
		}
		if !c.ExpiresAt.IsZero() {
			t.Errorf("%s: ExpiresAt = %v for a token without exp", tt.name, c.ExpiresAt)
		}
		if c.Subject != "bob" {
			t.Errorf("%s: Subject = %q", tt.name, c.Subject)
		}
	}

	// An invalid selector in a claim refuses the token, saying where.
	bad := signRaw(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"mercure": map[string]any{"subscribe": []string{"a", "https://example.com/{id"}}})
	_, err := v.Verify(bad)
	wantUnauthorized(t, "invalid selector", err, `claim mercure.subscribe[1]: topic selector "https://example.com/{id" is not a valid URI template`)
	if errors.Is(err, herald.ErrInvalid) {
		t.Errorf("invalid selector in a token: %v also wraps ErrInvalid (it must map to 401, not 400)", err)
	}
}

func TestCanPublishCanReceive(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
	c, err := v.Verify(mustSign(t, "HS256", []byte(secret), auth.Grant{
		Publish:   []string{"https://example.com/books/{id}", "https://example.com/news"},
		Subscribe: []string{"https://example.com/users/1/{+rest}"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	pub := []struct {
		topics []string
		want   bool
	}{
		{[]string{"https://example.com/books/1"}, true},
		{[]string{"https://example.com/books/1", "https://example.com/news"}, true},
		{[]string{"https://example.com/books/1", "https://example.com/other"}, false}, // every topic must be allowed
		{[]string{"https://example.com/other", "https://example.com/books/1"}, false},
		{nil, false},
	}
	for _, tt := range pub {
		if got := c.CanPublish(tt.topics); got != tt.want {
			t.Errorf("CanPublish(%q) = %v, want %v", tt.topics, got, tt.want)
		}
	}
	recv := []struct {
		topics []string
		want   bool
	}{
		{[]string{"https://example.com/users/1/orders/7"}, true},
		{[]string{"https://example.com/books/1", "https://example.com/users/1/x"}, true}, // one topic is enough
		{[]string{"https://example.com/users/2/x"}, false},
		{nil, false},
	}
	for _, tt := range recv {
		if got := c.CanReceive(tt.topics); got != tt.want {
			t.Errorf("CanReceive(%q) = %v, want %v", tt.topics, got, tt.want)
		}
	}

	var anon *auth.Claims
	if anon.CanPublish([]string{"x"}) || anon.CanReceive([]string{"x"}) {
		t.Error("nil claims grant something")
	}
	empty, err := v.Verify(mustSign(t, "HS256", []byte(secret), auth.Grant{Publish: []string{}, Subscribe: []string{}}))
	if err != nil {
		t.Fatal(err)
	}
	if empty.CanPublish([]string{"x"}) || empty.CanReceive([]string{"x"}) {
		t.Error("empty claims grant something")
	}
}

func TestAudienceIssuer(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}, Audience: "herald", Issuer: "https://auth.example.com"})
	ok := mustSign(t, "HS256", []byte(secret), auth.Grant{Audience: "herald", Issuer: "https://auth.example.com"})
	if _, err := v.Verify(ok); err != nil {
		t.Errorf("matching aud and iss: %v", err)
	}
	_, err := v.Verify(mustSign(t, "HS256", []byte(secret), auth.Grant{Audience: "other", Issuer: "https://auth.example.com"}))
	wantUnauthorized(t, "wrong aud", err, `token audience does not include "herald"`)
	_, err = v.Verify(mustSign(t, "HS256", []byte(secret), auth.Grant{Issuer: "https://auth.example.com"}))
	wantUnauthorized(t, "no aud", err, "audience")
	_, err = v.Verify(mustSign(t, "HS256", []byte(secret), auth.Grant{Audience: "herald", Issuer: "https://evil.example.com"}))
	wantUnauthorized(t, "wrong iss", err, `token issuer is not "https://auth.example.com"`)
	_, err = v.Verify(mustSign(t, "HS256", []byte(secret), auth.Grant{Audience: "herald"}))
	wantUnauthorized(t, "no iss", err, `token issuer is not "https://auth.example.com"`)
}

// TestExpiry runs on synctest's fake clock: a token is accepted until its
// exp, from the cache as well, and refused from exp on, by a warm verifier
// (cache hit) and by a cold one (full verification).
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		warm := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
		tok := mustSign(t, "HS256", []byte(secret), auth.Grant{Publish: []string{"*"}, TTL: time.Minute})
		exp := time.Now().Add(time.Minute)

		c1, err := warm.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if !c1.ExpiresAt.Equal(exp) {
			t.Errorf("ExpiresAt = %v, want %v", c1.ExpiresAt, exp)
		}
		time.Sleep(time.Minute - time.Second)
		c2, err := warm.Verify(tok)
		if err != nil {
			t.Fatalf("1s before exp: %v", err)
		}
		if c1 != c2 {
			t.Error("second Verify did not come from the cache")
		}

		time.Sleep(time.Second) // now == exp: expired (exp is exclusive)
		_, err = warm.Verify(tok)
		wantUnauthorized(t, "cached, at exp", err, "token expired at 2000-01-01T00:01:00Z")
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("cached, at exp: %v does not wrap jwt.ErrTokenExpired", err)
		}

		cold := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
		_, err = cold.Verify(tok)
		wantUnauthorized(t, "uncached, at exp", err, "token expired at 2000-01-01T00:01:00Z")
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("uncached, at exp: %v does not wrap jwt.ErrTokenExpired", err)
		}
	})
}

func TestLeeway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tok := mustSign(t, "HS256", []byte(secret), auth.Grant{TTL: time.Minute})
		cached := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}, Leeway: 30 * time.Second})
		if _, err := cached.Verify(tok); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute + 29*time.Second)
		for _, v := range []*auth.Verifier{cached, mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}, Leeway: 30 * time.Second})} {
			if _, err := v.Verify(tok); err != nil {
				t.Errorf("29s after exp with a 30s leeway: %v", err)
			}
		}
		time.Sleep(time.Second)
		for _, v := range []*auth.Verifier{cached, mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}, Leeway: 30 * time.Second})} {
			_, err := v.Verify(tok)
			wantUnauthorized(t, "30s after exp with a 30s leeway", err, "expired")
		}
	})
}

func TestNotBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
		nbf := time.Now().Add(time.Minute)
		tok := signRaw(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"nbf": jwt.NewNumericDate(nbf)})
		_, err := v.Verify(tok)
		wantUnauthorized(t, "before nbf", err, "token is not valid before 2000-01-01T00:01:00Z")
		time.Sleep(time.Minute)
		c, err := v.Verify(tok)
		if err != nil {
			t.Fatalf("at nbf: %v", err)
		}
		if !c.NotBefore.Equal(nbf) {
			t.Errorf("NotBefore = %v, want %v", c.NotBefore, nbf)
		}
	})
}

func TestCacheDisabled(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}, CacheSize: -1})
	tok := mustSign(t, "HS256", []byte(secret), auth.Grant{Publish: []string{"*"}})
	a, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("CacheSize -1: the second Verify returned the first claims, want a fresh verification")
	}
}

func TestSharedSelectorCache(t *testing.T) {
	sc := topic.NewCache(0)
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}, Selectors: sc})
	c, err := v.Verify(mustSign(t, "HS256", []byte(secret), auth.Grant{Subscribe: []string{"https://example.com/books/{id}"}}))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := sc.Compile("https://example.com/books/{id}")
	if err != nil {
		t.Fatal(err)
	}
	if c.Subscribe[0] != hub {
		t.Error("the claims' selector is not the one the shared cache holds")
	}
}

func TestSignErrors(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		name string
		alg  string
		key  []byte
		g    auth.Grant
		want string
	}{
		{"HS256 with a PEM key", "HS256", keys["rsa"].privPEM, auth.Grant{}, "HS256 token cannot be signed with this key"},
		{"RS256 with a secret", "RS256", []byte(secret), auth.Grant{}, "RS256 token cannot be signed with this key"},
		{"ES384 with P-256", "ES384", keys["p256"].privPEM, auth.Grant{}, "ES384 token cannot be signed"},
		{"public key", "RS256", keys["rsa"].pubPEM, auth.Grant{}, `PEM block "PUBLIC KEY" is not a private key`},
		{"none", "none", []byte(secret), auth.Grant{}, `"none" is not supported`},
		{"empty key", "HS256", nil, auth.Grant{}, "empty key"},
		{"bad selector", "HS256", []byte(secret), auth.Grant{Publish: []string{"x{"}}, "mercure.publish"},
		{"bad payload", "HS256", []byte(secret), auth.Grant{Payload: func() {}}, "signing token"},
	}
	for _, tt := range tests {
		_, err := auth.Sign(tt.alg, tt.key, tt.g)
		if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Sign error = %v, want herald.ErrInvalid containing %q", tt.name, err, tt.want)
		}
	}
}

func TestSignOmitsAbsentClaims(t *testing.T) {
	tok := mustSign(t, "HS256", []byte(secret), auth.Grant{Subscribe: []string{}})
	_, p, _ := split3(tok)
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if m := string(got["mercure"]); m != `{"subscribe":[]}` {
		t.Errorf("mercure claim = %s, want {\"subscribe\":[]}", m)
	}
	if _, ok := got["exp"]; ok {
		t.Error("exp present for a zero TTL")
	}
	if _, ok := got["iat"]; !ok {
		t.Error("iat missing")
	}
}

// TestVerifyConcurrent verifies valid and invalid tokens from many
// goroutines through a cache smaller than the working set; run with -race.
func TestVerifyConcurrent(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}, CacheSize: 4})
	toks := make([]string, 16)
	for i := range toks {
		toks[i] = mustSign(t, "HS256", []byte(secret), auth.Grant{Subject: fmt.Sprint(i), Publish: []string{fmt.Sprintf("https://example.com/%d/{id}", i)}})
	}
	bad := mustSign(t, "HS256", []byte("wrong"), auth.Grant{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				k := (i + g) % len(toks)
				c, err := v.Verify(toks[k])
				if err != nil {
					errs <- err
					return
				}
				if c.Subject != fmt.Sprint(k) || !c.CanPublish([]string{fmt.Sprintf("https://example.com/%d/7", k)}) {
					errs <- fmt.Errorf("token %d: got claims of %q", k, c.Subject)
					return
				}
				if _, err := v.Verify(bad); err == nil {
					errs <- errors.New("bad token accepted")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, and it
// must refuse with an error wrapping herald.ErrUnauthorized or return claims.
func FuzzVerify(f *testing.F) {
	keys := testKeys()
	v := mustVerifier(f, auth.Config{Keys: [][]byte{[]byte(secret), keys["p256"].pubPEM}, CacheSize: 16})
	f.Add(mustSign(f, "HS256", []byte(secret), auth.Grant{Publish: []string{"*"}, Subscribe: []string{"https://example.com/{id}"}, Payload: 1}))
	f.Add(mustSign(f, "ES256", keys["p256"].privPEM, auth.Grant{Subscribe: []string{"a"}, TTL: time.Hour}))
	f.Add(signRaw(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{}))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok)
		if err != nil {
			if !errors.Is(err, herald.ErrUnauthorized) {
				t.Fatalf("Verify(%q) error %v does not wrap herald.ErrUnauthorized", tok, err)
			}
			return
		}
		if c == nil {
			t.Fatalf("Verify(%q) returned nil claims and no error", tok)
		}
	})
}
