package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// jwksServer is an identity provider's JWKS endpoint over real HTTPS: it
// serves the keys it is given, counts the requests, and can be taken down.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu           sync.Mutex
	keys         []map[string]any
	down         bool
	cacheControl string
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if s.cacheControl != "" {
			w.Header().Set("Cache-Control", s.cacheControl)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *jwksServer) config() auth.KeySetConfig {
	return auth.KeySetConfig{URL: s.URL + "/jwks.json", Client: s.Client()}
}

func mustKeySet(t *testing.T, cfg auth.KeySetConfig) *auth.KeySet {
	t.Helper()
	ks, err := auth.NewKeySet(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	return ks
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf returns the public JWK of priv with kid and, when not empty, alg.
func jwkOf(t testing.TB, priv crypto.Signer, kid, alg string) map[string]any {
	t.Helper()
	m := map[string]any{"kid": kid, "use": "sig"}
	if alg != "" {
		m["alg"] = alg
	}
	switch pub := priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u(pub.N.Bytes()), b64u(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		b, err := pub.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		size := (len(b) - 1) / 2
		m["kty"], m["crv"], m["x"], m["y"] = "EC", pub.Curve.Params().Name, b64u(b[1:1+size]), b64u(b[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64u(pub)
	default:
		t.Fatalf("unsupported key %T", pub)
	}
	return m
}

// signKid signs claims with priv by method, naming kid in the header when
// it is not empty.
func signKid(t testing.TB, method jwt.SigningMethod, priv any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func publishAll() jwt.MapClaims {
	return jwt.MapClaims{"mercure": map[string]any{"publish": []string{"*"}}, "exp": time.Now().Add(time.Hour).Unix()}
}

// fakeClock is the clock of a KeySet's rate limit, stepped by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func withFakeClock(ks *auth.KeySet) *fakeClock {
	c := &fakeClock{now: time.Now()}
	auth.SetKeySetClock(ks, c.Now)
	return c
}

func TestKeySetVerifiesEveryKeyType(t *testing.T) {
	keys := testKeys()
	srv := newJWKSServer(t,
		jwkOf(t, keys["rsa"].priv, "r1", ""),
		jwkOf(t, keys["p256"].priv, "e1", "ES256"),
		jwkOf(t, keys["p384"].priv, "e2", ""),
		jwkOf(t, keys["ed25519"].priv, "o1", ""),
	)
	v := mustVerifier(t, auth.Config{KeySet: mustKeySet(t, srv.config())})
	if got := strings.Join(v.Algs(), " "); got != "ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512" {
		t.Errorf("Algs() = %q", got)
	}
	for _, tt := range []struct {
		method jwt.SigningMethod
		priv   any
		kid    string
	}{
		{jwt.SigningMethodRS256, keys["rsa"].priv, "r1"},
		{jwt.SigningMethodPS384, keys["rsa"].priv, "r1"},
		{jwt.SigningMethodES256, keys["p256"].priv, "e1"},
		{jwt.SigningMethodES384, keys["p384"].priv, "e2"},
		{jwt.SigningMethodEdDSA, keys["ed25519"].priv, "o1"},
		{jwt.SigningMethodES256, keys["p256"].priv, ""}, // no kid: every key of the type is tried
	} {
		c, err := v.Verify(signKid(t, tt.method, tt.priv, tt.kid, publishAll()))
		if err != nil || !c.CanPublish([]string{"x"}) {
			t.Errorf("%s kid %q: Verify: %v", tt.method.Alg(), tt.kid, err)
		}
	}
	// A kid pins the key: the right kid with another key's signature, or
	// a kid whose key is of another type, is refused.
	wantUnauthorized(t, "kid of another key", verify(v, signKid(t, jwt.SigningMethodRS256, keys["rsa2"].priv, "r1", publishAll())), "invalid signature")
	wantUnauthorized(t, "kid of another type", verify(v, signKid(t, jwt.SigningMethodES256, keys["p256"].priv, "r1", publishAll())), "invalid signature")
	// No configured key of the type: HS256 is not allowed at all.
	wantUnauthorized(t, "HS256", verify(v, signKid(t, jwt.SigningMethodHS256, []byte(secret), "", publishAll())), `unexpected alg "HS256"`)
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("the set was fetched %d times, want 1", n)
	}
}

func verify(v *auth.Verifier, tok string) error {
	_, err := v.Verify(tok)
	return err
}

func TestKeySetAlgPinning(t *testing.T) {
	keys := testKeys()
	srv := newJWKSServer(t,
		jwkOf(t, keys["rsa"].priv, "ps", "PS256"),   // pinned: RS256 refused
		jwkOf(t, keys["rsa2"].priv, "bad", "ES256"), // alg of another type: skipped
		jwkOf(t, keys["p256"].priv, "enc", ""),      // made an encryption key below
		map[string]any{"kty": "oct", "kid": "h", "k": b64u([]byte(strings.Repeat("k", 32)))},
	)
	srv.keys[2]["use"] = "enc"
	v := mustVerifier(t, auth.Config{KeySet: mustKeySet(t, srv.config())})
	if _, err := v.Verify(signKid(t, jwt.SigningMethodPS256, keys["rsa"].priv, "ps", publishAll())); err != nil {
		t.Errorf("PS256 with its pinned key: %v", err)
	}
	wantUnauthorized(t, "RS256 with a PS256 key", verify(v, signKid(t, jwt.SigningMethodRS256, keys["rsa"].priv, "ps", publishAll())), "invalid signature")
	wantUnauthorized(t, "key with a mismatched alg", verify(v, signKid(t, jwt.SigningMethodRS256, keys["rsa2"].priv, "bad", publishAll())), `unknown kid "bad"`)
	wantUnauthorized(t, "encryption key", verify(v, signKid(t, jwt.SigningMethodES256, keys["p256"].priv, "enc", publishAll())), `unknown kid "enc"`)
	wantUnauthorized(t, "oct key without AllowHMAC", verify(v, signKid(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), "h", publishAll())), `unexpected alg "HS256"`)

	cfg := srv.config()
	cfg.AllowHMAC = true
	vh := mustVerifier(t, auth.Config{KeySet: mustKeySet(t, cfg)})
	if _, err := vh.Verify(signKid(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), "h", publishAll())); err != nil {
		t.Errorf("oct key with AllowHMAC: %v", err)
	}
	// "none" is never accepted, whatever the set holds.
	none := signKid(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "h", publishAll())
	wantUnauthorized(t, "none", verify(vh, none), `unexpected alg "none"`)
}

func TestKeySetRotationOnUnknownKid(t *testing.T) {
	keys := testKeys()
	srv := newJWKSServer(t, jwkOf(t, keys["rsa"].priv, "2026-01", ""))
	ks := mustKeySet(t, srv.config())
	clock := withFakeClock(ks)
	v := mustVerifier(t, auth.Config{KeySet: ks})

	old := signKid(t, jwt.SigningMethodRS256, keys["rsa"].priv, "2026-01", publishAll())
	if _, err := v.Verify(old); err != nil {
		t.Fatalf("token of the first key: %v", err)
	}
	// The provider rotates: the new key replaces the old one. A token of
	// the new key makes the hub fetch the set again, without a restart.
	srv.set(jwkOf(t, keys["rsa2"].priv, "2026-02", ""))
	clock.Add(auth.DefaultJWKSMinRefresh)
	fresh := signKid(t, jwt.SigningMethodRS256, keys["rsa2"].priv, "2026-02", publishAll())
	if _, err := v.Verify(fresh); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("the set was fetched %d times, want 2", n)
	}
	// The old key is gone: its token, verified and cached before, is
	// refused now (and its kid cannot trigger a fetch so soon).
	wantUnauthorized(t, "token of the removed key", verify(v, old), `unknown kid "2026-01"`)
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("the set was fetched %d times, want 2", n)
	}
	if st := ks.Status(); st.Keys != 1 || st.Refreshes != 2 || st.RateLimited != 1 || !st.Healthy() {
		t.Errorf("Status() = %+v", st)
	}
}

func TestKeySetUnknownKidRateLimit(t *testing.T) {
	keys := testKeys()
	srv := newJWKSServer(t, jwkOf(t, keys["p256"].priv, "k1", ""))
	ks := mustKeySet(t, srv.config())
	clock := withFakeClock(ks)
	v := mustVerifier(t, auth.Config{KeySet: ks})

	flood := func() {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					tok := signKid(t, jwt.SigningMethodES256, keys["p256"].priv, fmt.Sprintf("random-%d-%d-%d", clock.Now().Unix(), g, i), publishAll())
					if _, err := v.Verify(tok); !errors.Is(err, herald.ErrUnauthorized) {
						t.Errorf("token with a random kid: error %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	flood()
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("400 random kids right after start: the set was fetched %d times, want 1 (the start)", n)
	}
	clock.Add(auth.DefaultJWKSMinRefresh - time.Second)
	flood()
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("random kids before MinRefreshInterval: %d fetches, want 1", n)
	}
	clock.Add(time.Second)
	flood()
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("random kids once MinRefreshInterval has passed: %d fetches, want 2", n)
	}
	if st := ks.Status(); st.RateLimited != 3*400-1 {
		t.Errorf("RateLimited = %d, want %d", st.RateLimited, 3*400-1)
	}
}

// refreshes returns a KeySetConfig whose OnRefresh sends every status on the
// returned channel, refreshing every interval.
func refreshes(cfg auth.KeySetConfig, interval time.Duration) (auth.KeySetConfig, <-chan auth.KeySetStatus) {
	ch := make(chan auth.KeySetStatus, 100)
	cfg.RefreshInterval, cfg.MinRefreshInterval = interval, interval
	cfg.OnRefresh = func(s auth.KeySetStatus) {
		select {
		case ch <- s:
		default:
		}
	}
	return cfg, ch
}

func TestKeySetScheduledRefresh(t *testing.T) {
	keys := testKeys()
	srv := newJWKSServer(t, jwkOf(t, keys["rsa"].priv, "a", ""))
	cfg, events := refreshes(srv.config(), 10*time.Millisecond)
	ks := mustKeySet(t, cfg)
	clock := withFakeClock(ks) // frozen: no unknown-kid fetch can happen
	_ = clock
	v := mustVerifier(t, auth.Config{KeySet: ks})
	<-events // the first fetch

	srv.set(jwkOf(t, keys["rsa"].priv, "a", ""), jwkOf(t, keys["rsa2"].priv, "b", ""))
	for st := range events {
		if st.Keys == 2 {
			break
		}
	}
	if _, err := v.Verify(signKid(t, jwt.SigningMethodRS256, keys["rsa2"].priv, "b", publishAll())); err != nil {
		t.Errorf("token of a key added by the provider: %v", err)
	}
	if st := ks.Status(); st.RateLimited != 0 {
		t.Errorf("RateLimited = %d: the key came from an unknown-kid fetch, not the schedule", st.RateLimited)
	}
}

func TestKeySetCacheControl(t *testing.T) {
	keys := testKeys()
	srv := newJWKSServer(t, jwkOf(t, keys["p256"].priv, "a", ""))
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{
		{"", auth.DefaultJWKSRefresh},
		{"public, max-age=600", 600 * time.Second},
		{"max-age=1", auth.DefaultJWKSMinRefresh},
		{"max-age=999999999", auth.DefaultJWKSMaxRefresh},
		{"no-store", auth.DefaultJWKSMinRefresh},
		{"max-age=oops", auth.DefaultJWKSRefresh},
	} {
		srv.mu.Lock()
		srv.cacheControl = tt.header
		srv.mu.Unlock()
		st := mustKeySet(t, srv.config()).Status()
		if got := st.NextRefresh.Sub(st.LastAttempt); got != tt.want {
			t.Errorf("Cache-Control %q: next refresh in %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestKeySetProviderDownAtStart(t *testing.T) {
	srv := newJWKSServer(t, jwkOf(t, testKeys()["p256"].priv, "a", ""))
	srv.setDown(true)
	_, err := auth.NewKeySet(context.Background(), srv.config())
	if !errors.Is(err, herald.ErrUnavailable) || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("provider answering 503: NewKeySet error = %v, want herald.ErrUnavailable naming the URL and the status", err)
	}

	gone := httptest.NewTLSServer(http.NotFoundHandler())
	cfg := auth.KeySetConfig{URL: gone.URL + "/jwks", Client: gone.Client()}
	gone.Close()
	if _, err := auth.NewKeySet(context.Background(), cfg); !errors.Is(err, herald.ErrUnavailable) || !strings.Contains(err.Error(), "connect") {
		t.Errorf("provider unreachable: NewKeySet error = %v, want herald.ErrUnavailable saying why", err)
	}

	srv.setDown(false)
	srv.set(map[string]any{"kty": "RSA", "kid": "weak", "n": b64u(big.NewInt(12345).Bytes()), "e": "AQAB"}, map[string]any{"kty": "EC", "kid": "c", "crv": "P-192"})
	_, err = auth.NewKeySet(context.Background(), srv.config())
	if !errors.Is(err, herald.ErrUnavailable) || !strings.Contains(err.Error(), "no usable key") || !strings.Contains(err.Error(), `"weak"`) || !strings.Contains(err.Error(), "P-192") {
		t.Errorf("set without a usable key: NewKeySet error = %v, want one listing why each key was skipped", err)
	}
}

func TestKeySetProviderDownLater(t *testing.T) {
	keys := testKeys()
	srv := newJWKSServer(t, jwkOf(t, keys["ed25519"].priv, "a", ""))
	cfg, events := refreshes(srv.config(), 10*time.Millisecond)
	ks := mustKeySet(t, cfg)
	v := mustVerifier(t, auth.Config{KeySet: ks})
	<-events

	srv.setDown(true)
	var st auth.KeySetStatus
	for st = range events {
		if st.Failures >= 2 {
			break
		}
	}
	if st.Healthy() || !strings.Contains(fmt.Sprint(st.LastError), "503") || st.Keys != 1 || st.LastRefresh.After(st.LastAttempt) {
		t.Errorf("provider down: status %+v, want unhealthy with the old key and the error", st)
	}
	if got := v.KeySets(); len(got) != 1 || got[0].Healthy() || got[0].URL != cfg.URL {
		t.Errorf("Verifier.KeySets() = %+v", got)
	}
	if _, err := v.Verify(signKid(t, jwt.SigningMethodEdDSA, keys["ed25519"].priv, "a", publishAll())); err != nil {
		t.Errorf("provider down: the old key no longer verifies: %v", err)
	}

	srv.setDown(false)
	for st = range events {
		if st.Healthy() {
			break
		}
	}
	if st.Refreshes < 2 {
		t.Errorf("provider back: status %+v", st)
	}
}

func TestNewKeySetConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  auth.KeySetConfig
		want string
	}{
		{auth.KeySetConfig{URL: "http://idp.example.com/jwks"}, "plain http is only allowed to a loopback host"},
		{auth.KeySetConfig{URL: "ftp://idp.example.com/jwks"}, `scheme "ftp" is not https`},
		{auth.KeySetConfig{URL: "/jwks"}, "no host"},
		{auth.KeySetConfig{URL: "https://idp.example.com/jwks", Algs: []string{"none"}}, `"none" is not supported`},
		{auth.KeySetConfig{URL: "https://idp.example.com/jwks", Algs: []string{"HS256"}}, "needs AllowHMAC"},
	} {
		_, err := auth.NewKeySet(context.Background(), tt.cfg)
		if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error = %v, want herald.ErrInvalid containing %q", tt.cfg, err, tt.want)
		}
	}

	// Plain http to a loopback host is accepted, for development.
	keys := testKeys()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwkOf(t, keys["p256"].priv, "a", "")}})
	}))
	defer plain.Close()
	mustKeySet(t, auth.KeySetConfig{URL: plain.URL})

	// A redirect to plain http elsewhere is not followed.
	tls := httptest.NewTLSServer(http.RedirectHandler("http://idp.example.com/jwks", http.StatusFound))
	defer tls.Close()
	_, err := auth.NewKeySet(context.Background(), auth.KeySetConfig{URL: tls.URL, Client: tls.Client()})
	if !errors.Is(err, herald.ErrUnavailable) || !strings.Contains(err.Error(), "refusing redirect") {
		t.Errorf("redirect to http: error = %v", err)
	}

	// A key set whose algorithms the verifier does not allow.
	srv := newJWKSServer(t, jwkOf(t, keys["p256"].priv, "a", ""))
	ks := mustKeySet(t, auth.KeySetConfig{URL: srv.URL, Client: srv.Client(), Algs: []string{"ES256"}})
	if _, err := auth.NewVerifier(auth.Config{KeySet: ks, Algs: []string{"RS256"}}); !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), "none of the allowed algorithms") {
		t.Errorf("NewVerifier with a key set of no allowed algorithm: %v", err)
	}
}

func TestKeySetClose(t *testing.T) {
	// Close stops the refresh goroutine (TestMain's goleak check fails
	// otherwise) and may be called again.
	srv := newJWKSServer(t, jwkOf(t, testKeys()["p256"].priv, "a", ""))
	cfg, events := refreshes(srv.config(), 10*time.Millisecond)
	ks := mustKeySet(t, cfg)
	<-events
	<-events // a scheduled refresh ran
	ks.Close()
	ks.Close()
}
