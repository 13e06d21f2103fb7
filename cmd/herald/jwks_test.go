package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

// jwksProvider is an identity provider's JWK Set endpoint over HTTPS: it
// serves the public halves of its current keys at /{set}, counts the
// fetches, and can be made to fail.
type jwksProvider struct {
	srv     *httptest.Server
	caFile  string // its certificate, PEM, for SSL_CERT_FILE
	mu      sync.Mutex
	keys    map[string][]signingKey // set -> current keys
	down    bool
	fetches map[string]*atomic.Int64
}

type signingKey struct {
	kid string
	key *ecdsa.PrivateKey
}

func newJWKSProvider(t *testing.T) *jwksProvider {
	p := &jwksProvider{keys: map[string][]signingKey{}, fetches: map[string]*atomic.Int64{"issuer": {}, "publishers": {}}}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-CA case fails handshakes on purpose
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.caFile = filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	if err := os.WriteFile(p.caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *jwksProvider) url(set string) string { return p.srv.URL + "/" + set }

func (p *jwksProvider) serve(w http.ResponseWriter, r *http.Request) {
	set := strings.TrimPrefix(r.URL.Path, "/")
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.fetches[set]
	if n == nil {
		http.NotFound(w, r)
		return
	}
	n.Add(1)
	if p.down {
		http.Error(w, "the provider is down", http.StatusServiceUnavailable)
		return
	}
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	for _, k := range p.keys[set] {
		pub, err := k.key.PublicKey.Bytes() // 0x04, X, Y
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		x, y := pub[1:33], pub[33:65]
		jwks.Keys = append(jwks.Keys, map[string]string{
			"kty": "EC", "crv": "P-256", "kid": k.kid, "alg": "ES256", "use": "sig",
			"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y),
		})
	}
	// A long max-age: only the start and tokens with unknown kids make the
	// hub fetch, which is what this test counts.
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Header().Set("Content-Type", "application/jwk-set+json")
	json.NewEncoder(w).Encode(jwks)
}

// rotate replaces set's keys with a new one named kid, and returns it.
func (p *jwksProvider) rotate(t *testing.T, set, kid string) signingKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[set] = []signingKey{{kid, k}}
	return signingKey{kid, k}
}

func (p *jwksProvider) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// pemKey is k's private key in PEM, as auth.SignAccess takes it.
func (k signingKey) pemKey(t *testing.T) []byte {
	der, err := x509.MarshalECPrivateKey(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// access08 is a draft-08 publisher token of issuer signed by k.
func (k signingKey) access08(t *testing.T, issuer, aud string) string {
	tok, err := auth.SignAccess("ES256", k.pemKey(t), auth.AccessGrant{Issuer: issuer, Audience: aud, TTL: time.Hour, KeyID: k.kid,
		Details: []auth.DetailGrant{publish08(exact08("*"))}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// token07 is a draft-07 publisher token signed by k, naming its kid.
func (k signingKey) token07(t *testing.T) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"mercure": map[string]any{"publish": []string{"*"}}, "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startBinary runs the built herald serve with args (and env) until the
// test ends, and returns it once it listens.
func startBinary(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(heraldBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--store", "memory:", "--demo=false",
		"--log-format", "json", "--shutdown-timeout", "2s"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	n := &node{name: "herald serve", cmd: cmd, exited: make(chan struct{}), log: &nodeLog{listening: make(chan string, 1)}}
	cmd.Stdout, cmd.Stderr = io.Discard, n.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("herald serve's log:\n%s", n.log.String())
		}
	})
	select {
	case n.base = <-n.log.listening:
		return n
	case <-n.exited:
		t.Fatalf("herald serve exited at start:\n%s", n.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("herald serve did not listen within 60s:\n%s", n.log.String())
	}
	return nil
}

// TestJWKSThroughTheBinary: the built herald verifies draft-08 tokens with
// an issuer's JWK Set and draft-07 publisher tokens with another, both
// fetched over HTTPS from a provider whose CA the binary trusts through
// SSL_CERT_FILE: keys rotate without a restart (an unknown kid makes the
// hub fetch again, and a removed key's tokens are refused), a flood of
// unknown kids costs the provider at most one fetch per --jwks-min-refresh
// (counted in herald_jwks_rate_limited_total), a provider that goes down
// later is reported by /healthz and /metrics while the keys in hand still
// verify, and one that is down at startup stops the start with a message
// naming it.
func TestJWKSThroughTheBinary(t *testing.T) {
	t.Parallel()
	p := newJWKSProvider(t)
	k1 := p.rotate(t, "issuer", "k1")
	p1 := p.rotate(t, "publishers", "p1")
	const iss = "https://login.example"
	env := []string{"SSL_CERT_FILE=" + p.caFile}
	n := startBinary(t, env, "--issuer", iss+"="+p.url("issuer"), "--publisher-jwks-url", p.url("publishers"), "--jwks-min-refresh", "1s")
	if got := p.fetches["issuer"].Load() + p.fetches["publishers"].Load(); got != 2 {
		t.Errorf("%d fetches at startup, want one per set", got)
	}
	aud := n.base + mercure.Path
	publish := func(tok string) (int, string) {
		resp, body := publishWith(t, n.base, bearer(tok), url.Values{"topic": {"t"}, "data": {"x"}})
		return resp.StatusCode, body
	}
	if status, body := publish(k1.access08(t, iss, aud)); status != http.StatusOK {
		t.Fatalf("draft 08, the issuer's key: %d %q", status, body)
	}
	if status, body := publish(p1.token07(t)); status != http.StatusOK {
		t.Fatalf("draft 07, the set's key: %d %q", status, body)
	}

	// Rotation: the provider replaces its keys. A token with the new kid is
	// accepted once the hub has fetched the set again, which it does for
	// that unknown kid as soon as the rate limit allows (within 1 s).
	for _, tc := range []struct {
		set  string
		kid  string
		sign func(signingKey) string
		old  string
	}{
		{"issuer", "k2", func(k signingKey) string { return k.access08(t, iss, aud) }, k1.access08(t, iss, aud)},
		{"publishers", "p2", func(k signingKey) string { return k.token07(t) }, p1.token07(t)},
	} {
		k := p.rotate(t, tc.set, tc.kid)
		before := p.fetches[tc.set].Load()
		tok := tc.sign(k)
		deadline := time.Now().Add(serveWait)
		for {
			status, body := publish(tok)
			if status == http.StatusOK {
				break
			}
			if status != http.StatusUnauthorized || !strings.Contains(body, "kid") || time.Now().After(deadline) {
				t.Fatalf("%s: a token with the new kid: %d %q", tc.set, status, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := p.fetches[tc.set].Load() - before; got != 1 {
			t.Errorf("%s: the rotation cost the provider %d fetches, want 1", tc.set, got)
		}
		if status, body := publish(tc.old); status != http.StatusUnauthorized {
			t.Errorf("%s: a token of the removed key: %d %q, want 401", tc.set, status, body)
		}
	}

	// A flood of unknown kids: at most one fetch per second.
	start, before := time.Now(), p.fetches["issuer"].Load()
	for i := range 200 {
		k := signingKey{fmt.Sprintf("random-%d", i), k1.key}
		if status, _ := publish(k.access08(t, iss, aud)); status != http.StatusUnauthorized {
			t.Fatalf("a token with an unknown kid: %d", status)
		}
	}
	if got, most := p.fetches["issuer"].Load()-before, int64(time.Since(start)/time.Second)+1; got > most {
		t.Errorf("200 unknown kids in %v cost the provider %d fetches, want at most %d", time.Since(start), got, most)
	}
	_, metrics := serveGet(t, n.base+"/metrics", nil)
	if got := metricValue(t, metrics, `herald_jwks_rate_limited_total{url="`+p.url("issuer")+`"}`); got < 150 {
		t.Errorf("herald_jwks_rate_limited_total = %v, want most of the 200", got)
	}
	if got := metricValue(t, metrics, `herald_jwks_keys{url="`+p.url("issuer")+`"}`); got != 1 {
		t.Errorf("herald_jwks_keys = %v, want 1", got)
	}

	// The provider goes down: the next fetch fails, /healthz and /metrics
	// say so, and the keys in hand still verify.
	p.setDown(true)
	k2 := signingKey{"k2", nil}
	p.mu.Lock()
	k2.key = p.keys["issuer"][0].key
	p.mu.Unlock()
	deadline := time.Now().Add(serveWait)
	for {
		publish(signingKey{"unknown", k2.key}.access08(t, iss, aud)) // asks for a fetch, when the limit allows
		resp, body := serveGet(t, n.base+"/healthz", nil)
		if strings.Contains(body, "jwks "+p.url("issuer")+" failing") {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/healthz with a failing JWK Set: %s, want 200 (the keys in hand still work)", resp.Status)
			}
			if !strings.Contains(body, "503") {
				t.Errorf("/healthz does not say why: %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never reported the failing set: %q", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, metrics = serveGet(t, n.base+"/metrics", nil)
	if got := metricValue(t, metrics, `herald_jwks_up{url="`+p.url("issuer")+`"}`); got != 0 {
		t.Errorf("herald_jwks_up = %v, want 0", got)
	}
	if got := metricValue(t, metrics, `herald_jwks_refresh_failures_total{url="`+p.url("issuer")+`"}`); got < 1 {
		t.Errorf("herald_jwks_refresh_failures_total = %v, want at least 1", got)
	}
	if got := metricValue(t, metrics, `herald_jwks_up{url="`+p.url("publishers")+`"}`); got != 1 {
		t.Errorf("the other set: herald_jwks_up = %v, want 1", got)
	}
	if status, body := publish(k2.access08(t, iss, aud)); status != http.StatusOK {
		t.Errorf("a known key while the provider is down: %d %q", status, body)
	}

	// Down at startup: the hub does not start, and says why.
	cmd := exec.Command(heraldBinary(t), "serve", "--addr", "127.0.0.1:0", "--store", "memory:", "--demo=false", "--issuer", iss+"="+p.url("issuer"))
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Errorf("a start with the provider down: exit %d (%v), want 1", code, err)
	}
	if !strings.Contains(string(out), p.url("issuer")) || !strings.Contains(string(out), "503") || strings.Contains(string(out), "herald is listening") {
		t.Errorf("a start with the provider down says %q; want the set's URL and the provider's answer", out)
	}
	// And an untrusted CA (no SSL_CERT_FILE) is a clear failure too.
	p.setDown(false)
	cmd = exec.Command(heraldBinary(t), "serve", "--addr", "127.0.0.1:0", "--store", "memory:", "--demo=false", "--publisher-jwks-url", p.url("publishers"))
	cmd.Dir = t.TempDir()
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "certificate") || cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("a provider whose CA is not trusted: exit %d, %q", cmd.ProcessState.ExitCode(), out)
	}
}
