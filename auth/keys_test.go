package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// keyPair is a generated key in the PEM forms a hub and a publisher use.
type keyPair struct {
	priv crypto.Signer
	// privPEM is the PKCS#8 private key, pubPEM the PKIX public key.
	privPEM, pubPEM []byte
}

// testKeys generates each key type once per test binary: RSA generation is
// slow under -race.
var testKeys = sync.OnceValue(func() map[string]keyPair {
	m := map[string]keyPair{}
	add := func(name string, priv crypto.Signer, err error) {
		if err != nil {
			panic(err)
		}
		m[name] = newKeyPair(priv)
	}
	r1, err := rsa.GenerateKey(rand.Reader, 2048)
	add("rsa", r1, err)
	r2, err := rsa.GenerateKey(rand.Reader, 2048)
	add("rsa2", r2, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	add("p256", p256, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	add("p384", p384, err)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	add("p521", p521, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	add("ed25519", ed, err)
	return m
})

func newKeyPair(priv crypto.Signer) keyPair {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		panic(err)
	}
	return keyPair{
		priv:    priv,
		privPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pubPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}
}

// newP256 generates a P-256 key distinct from testKeys()["p256"].
func newP256(t *testing.T) keyPair {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newKeyPair(k)
}

// certPEM returns a self-signed certificate for kp.
func certPEM(t *testing.T, kp keyPair) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "herald test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, kp.priv.Public(), kp.priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	kp := testKeys()["p256"]
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(pemFile, kp.pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oneLine := strings.ReplaceAll(string(kp.pubPEM), "\n", `\n`)

	tests := []struct {
		in, want string
	}{
		{"literal secret", "literal secret"},
		{"@" + secretFile, "s3cret-from-file"},
		{"@" + pemFile, string(kp.pubPEM)}, // PEM kept byte for byte
		{string(kp.pubPEM), string(kp.pubPEM)},
		{oneLine, string(kp.pubPEM)},
		{`not\npem`, `not\npem`}, // escapes are only rewritten in PEM
	}
	for _, tt := range tests {
		got, err := auth.LoadKey(tt.in)
		if err != nil {
			t.Errorf("LoadKey(%.30q): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("LoadKey(%.30q) = %.40q, want %.40q", tt.in, got, tt.want)
		}
	}
	// The one-line PEM is usable as a verification key.
	k, _ := auth.LoadKey(oneLine)
	if _, err := auth.NewVerifier(auth.Config{Keys: [][]byte{k}}); err != nil {
		t.Errorf("NewVerifier with a one-line PEM key: %v", err)
	}

	for _, in := range []string{"", "@" + filepath.Join(dir, "missing"), "@" + emptyFile} {
		if _, err := auth.LoadKey(in); !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("LoadKey(%q) error = %v, want herald.ErrInvalid", in, err)
		}
	}
}

func TestDefaultAlg(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		key  []byte
		want string
	}{
		{[]byte("secret"), "HS256"},
		{keys["rsa"].privPEM, "RS256"},
		{keys["rsa"].pubPEM, "RS256"},
		{keys["p256"].privPEM, "ES256"},
		{keys["p384"].pubPEM, "ES384"},
		{keys["p521"].privPEM, "ES512"},
		{keys["ed25519"].privPEM, "EdDSA"},
	}
	for _, tt := range tests {
		got, err := auth.DefaultAlg(tt.key)
		if err != nil || got != tt.want {
			t.Errorf("DefaultAlg(%.30q) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
	if _, err := auth.DefaultAlg([]byte("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n")); !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("DefaultAlg(bad PEM) error = %v, want herald.ErrInvalid", err)
	}
}

func TestNewVerifierConfigErrors(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"no key", auth.Config{}, "no JWT verification key"},
		{"empty key", auth.Config{Keys: [][]byte{{}}}, "empty key"},
		{"none", auth.Config{Keys: [][]byte{[]byte("s")}, Algs: []string{"none"}}, `"none" is not supported`},
		{"unknown alg", auth.Config{Keys: [][]byte{[]byte("s")}, Algs: []string{"HS1"}}, `"HS1" is not supported`},
		{"secret for RS256", auth.Config{Keys: [][]byte{[]byte("s")}, Algs: []string{"RS256"}}, "HMAC secret, which cannot verify any allowed algorithm (RS256)"},
		{"RSA key for HS256", auth.Config{Keys: [][]byte{keys["rsa"].pubPEM}, Algs: []string{"HS256"}}, "RSA public key, which cannot verify"},
		{"P-256 key for ES384", auth.Config{Keys: [][]byte{keys["p256"].pubPEM}, Algs: []string{"ES384"}}, "P-256 public key, which cannot verify"},
		{"bad PEM", auth.Config{Keys: [][]byte{[]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")}}, "PEM PUBLIC KEY"},
		{"PEM without block", auth.Config{Keys: [][]byte{[]byte("-----BEGIN nothing")}}, "no valid PEM block"},
		{"other PEM type", auth.Config{Keys: [][]byte{pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte{1}})}}, `unsupported PEM block "OPENSSH PRIVATE KEY"`},
	}
	for _, tt := range tests {
		_, err := auth.NewVerifier(tt.cfg)
		if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewVerifier error = %v, want herald.ErrInvalid containing %q", tt.name, err, tt.want)
		}
	}
}

func TestVerifierAlgs(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		cfg  auth.Config
		want string
	}{
		{auth.Config{Keys: [][]byte{[]byte("s")}}, "HS256 HS384 HS512"},
		{auth.Config{Keys: [][]byte{keys["p256"].pubPEM}}, "ES256"},
		{auth.Config{Keys: [][]byte{keys["rsa"].pubPEM}}, "PS256 PS384 PS512 RS256 RS384 RS512"},
		{auth.Config{Keys: [][]byte{[]byte("s"), keys["rsa"].pubPEM}, Algs: []string{"HS256", "RS256", "ES256"}}, "HS256 RS256"},
		{auth.Config{Keys: [][]byte{append(append([]byte{}, keys["p256"].pubPEM...), keys["ed25519"].pubPEM...)}}, "ES256 EdDSA"},
	}
	for _, tt := range tests {
		v, err := auth.NewVerifier(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(v.Algs(), " "); got != tt.want {
			t.Errorf("Algs() = %q, want %q", got, tt.want)
		}
	}
}
