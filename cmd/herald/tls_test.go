package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
)

// testCA signs the certificates of these tests; tlsClient trusts it.
var testCA = sync.OnceValues(func() (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return ca, key
})

// testRoots trusts testCA only.
var testRoots = sync.OnceValue(func() *x509.CertPool {
	ca, _ := testCA()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
})

// tlsClient is an HTTP client that trusts testCA and speaks HTTP/2.
var tlsClient = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: testRoots()},
		ForceAttemptHTTP2: true,
	}}
})

// clientFor returns the client for target: tlsClient for https URLs.
func clientFor(target string) *http.Client {
	if strings.HasPrefix(target, "https://") {
		return tlsClient()
	}
	return http.DefaultClient
}

// issueCert writes to certPath and keyPath a certificate for 127.0.0.1,
// signed by testCA, with the given serial number.
func issueCert(t *testing.T, certPath, keyPath string, serial int64) {
	t.Helper()
	ca, caKey := testCA()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "EC PRIVATE KEY", kder)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeTLS: with --tls-cert and --tls-key the hub serves HTTPS, and
// HTTP/2 to clients that offer it; subscribing and publishing work over it,
// and a renewed certificate is served without a restart.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	issueCert(t, cert, key, 2)
	l, _ := runServeListening(t, "--tls-cert="+cert, "--tls-key="+key, "--jwt-key="+serveTestKey)
	if !strings.HasPrefix(l.URL, "https://127.0.0.1:") {
		t.Fatalf("the hub's URL is %q, want https", l.URL)
	}
	s := serveSubscribe(t, l.URL, "topic=t", nil)
	if s.resp.ProtoMajor != 2 || s.resp.TLS == nil || s.resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 2 {
		t.Fatalf("subscription over %s (TLS %v), want HTTP/2 over TLS with certificate 2", s.resp.Proto, s.resp.TLS != nil)
	}
	pub := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	if status, body := servePublish(t, l.URL, pub, url.Values{"topic": {"t"}, "data": {"over h2"}}); status != http.StatusOK {
		t.Fatalf("publish over HTTPS: %d %q", status, body)
	}
	if ev := s.next(t); ev.Data != "over h2" {
		t.Errorf("received %+v, want the update published over HTTPS", ev)
	}
	// A renewal reaches new connections without a restart.
	issueCert(t, cert, key, 4)
	later := time.Now().Add(time.Minute)
	for _, p := range []string{cert, key} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	served := func() int64 {
		c, err := tls.Dial("tcp", strings.TrimPrefix(l.URL, "https://"), &tls.Config{RootCAs: testRoots()})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	for deadline := time.Now().Add(serveWait); served() != 4; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served within %v", serveWait)
		}
	}
	// Plain HTTP on the same port is not served.
	if resp, err := http.Get("http" + strings.TrimPrefix(l.URL, "https") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP on the TLS port answered %s", resp.Status)
		}
	}
}

// TestCertReload: a renewed certificate is served without a restart; a pair
// that does not load leaves the one in use, and is reported once.
func TestCertReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	issueCert(t, cert, key, 10)
	var logs hubtest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r, err := newCertReloader(cert, key, log)
	if err != nil {
		t.Fatal(err)
	}
	r.interval = 0 // look at the files on every handshake
	serial := func() int64 {
		t.Helper()
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.Int64()
	}
	// touch gives a file a new modification time, so that a rewrite is
	// seen even within the file system's timestamp granularity.
	step := time.Now()
	touch := func(paths ...string) {
		step = step.Add(2 * time.Second)
		for _, p := range paths {
			if err := os.Chtimes(p, step, step); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := serial(); got != 10 {
		t.Fatalf("serving certificate %d, want 10", got)
	}

	issueCert(t, cert, key, 11)
	touch(cert, key)
	if got := serial(); got != 11 {
		t.Fatalf("after a renewal, serving certificate %d, want 11", got)
	}

	// Half-written renewal: the new certificate with the old key.
	keep, _ := os.ReadFile(key)
	issueCert(t, cert, key, 12)
	newKey, _ := os.ReadFile(key)
	if err := os.WriteFile(key, keep, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(cert, key)
	for range 3 {
		if got := serial(); got != 11 {
			t.Fatalf("with a mismatched pair, serving certificate %d, want 11 (the one in use)", got)
		}
	}
	if warnings := strings.Count(logs.String(), "does not load"); warnings != 1 {
		t.Errorf("the mismatched pair was reported %d times, want once:\n%s", warnings, logs.String())
	}

	// The renewal completes.
	if err := os.WriteFile(key, newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(key)
	if got := serial(); got != 12 {
		t.Fatalf("once the key is written too, serving certificate %d, want 12", got)
	}

	// Files gone: keep serving.
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != 12 {
		t.Fatalf("with the certificate file gone, serving %d, want 12", got)
	}
}
