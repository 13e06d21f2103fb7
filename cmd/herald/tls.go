package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves a certificate and key from PEM files and loads them
// again once either file changes (a renewal), without a restart: it looks at
// the files at most once per interval, during a TLS handshake. A pair that
// does not load (a half-written renewal, a key that does not match) is
// reported once and the certificate in use is kept, so connections never
// fail because of a renewal in progress.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	interval          time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	loaded  [2]fileVersion // of the pair in use
	failed  [2]fileVersion // of the last pair that did not load
	checked time.Time
}

// fileVersion tells two versions of a file apart.
type fileVersion struct {
	mod  time.Time
	size int64
}

// newCertReloader loads the pair once; an error says which file is wrong.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, interval: time.Second}
	v, err := r.versions()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)
	}
	r.cert, r.loaded, r.checked = &cert, v, time.Now()
	return r, nil
}

func (r *certReloader) versions() ([2]fileVersion, error) {
	var v [2]fileVersion
	for i, name := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return v, fmt.Errorf("TLS certificate or key: %w", err)
		}
		v[i] = fileVersion{fi.ModTime(), fi.Size()}
	}
	return v, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		r.reloadLocked()
	}
	return r.cert, nil
}

func (r *certReloader) reloadLocked() {
	v, err := r.versions()
	if err != nil || v == r.loaded || v == r.failed {
		if err != nil && v != r.failed {
			r.failed = v
			r.log.Warn("cannot read the TLS certificate; still serving the one loaded before", "err", err)
		}
		return
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.failed = v
		r.log.Warn("the changed TLS certificate does not load; still serving the one loaded before", "cert", r.certFile, "key", r.keyFile, "err", err)
		return
	}
	r.cert, r.loaded = &cert, v
	r.log.Info("loaded the renewed TLS certificate", "cert", r.certFile)
}

// tlsConfig returns the server's TLS configuration: TLS 1.2 or later, with
// HTTP/2 offered (net/http adds it).
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}
