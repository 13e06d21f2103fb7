package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/topic"
)

// keysConfig holds the flags of the keys fetched from JWK Sets (both
// generations) and of draft 08 (Mercure 1.0): the trusted issuers of access
// tokens, the hub's resource identifier, the cookie, and which generations
// the hub speaks.
type keysConfig struct {
	publisherJWKS  string
	subscriberJWKS string
	issuers        stringsFlag
	resourceID     string
	publicURLs     string
	cookieName     string
	protocol       string
	jwksMinRefresh time.Duration
	jwksCA         string
}

func (k *keysConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&k.publisherJWKS, "publisher-jwks-url", "", "verify draft-07 publisher tokens with the keys of this JWK Set (https; with or instead of --publisher-jwt-key): fetched at startup (the hub does not start without it), then refreshed as its Cache-Control says and when a token names an unknown kid")
	fs.StringVar(&k.subscriberJWKS, "subscriber-jwks-url", "", "verify draft-07 subscriber tokens with the keys of this JWK Set (as --publisher-jwks-url)")
	fs.Var(&k.issuers, "issuer", "trust the draft-08 access tokens (typ at+jwt) of an issuer, given as `ID=KEY`: ID is the iss its tokens carry, KEY its JWK Set URL (https://…) or a key as --jwt-key takes it (HMAC secret, PEM, @file); repeatable, one per issuer; a token is verified with its own issuer's keys only")
	fs.StringVar(&k.resourceID, "resource-identifier", "", "the hub's public URL, e.g. https://hub.example.com/.well-known/mercure: the audience (aud) draft-08 tokens must name, and the base URL of relative URL patterns and topics (default: derived from each request's scheme and Host, as Mercure 1.0 does; set it behind a proxy)")
	fs.StringVar(&k.publicURLs, "public-urls", "", "without --resource-identifier: the origins (comma-separated, such as https://hub.example.com) clients reach the hub at; a draft-08 request sent to another origin is answered 421, rather than served with a resource identifier derived from a Host header its client chose (default: any origin)")
	fs.StringVar(&k.cookieName, "cookie-name", auth.AccessCookieName, "the cookie browsers send their draft-08 access token in")
	fs.StringVar(&k.protocol, "protocol", "both", "Mercure generations to serve: both (each request in the one it speaks: topic= and mercure-claim tokens are draft 07, match= and access tokens draft 08), 07 or 08")
	fs.DurationVar(&k.jwksMinRefresh, "jwks-min-refresh", auth.DefaultJWKSMinRefresh, "shortest time between two fetches of a JWK Set: the floor of its max-age, and the rate limit of the fetches that tokens with an unknown kid cause")
	fs.StringVar(&k.jwksCA, "jwks-ca", "", "trust the certificate authorities of this PEM `file` (as well as the system's) when fetching JWK Sets; SSL_CERT_FILE works too")
}

// keySets is what keysConfig built: the JWK Sets it fetched and the
// draft-08 verifier. Close stops the sets' refreshes.
type keySets struct {
	sets     []*auth.KeySet
	access   *auth.AccessVerifier
	matchers *topic.MatcherCache
	protocol mercure.Protocol
}

// verifiers builds the draft-07 verifiers (from the key given as
// --publisher-jwt-key or --subscriber-jwt-key, pubKey and subKey, and
// their JWK Sets) and the draft-08 one, fetching every JWK Set first: a set
// that cannot be fetched stops the start with an error naming its URL and
// why. The verifiers are nil when they have no key.
func (k *keysConfig) verifiers(ctx context.Context, pubKey, subKey string, algs []string, log *slog.Logger) (publishers, subscribers *auth.Verifier, ks *keySets, err error) {
	ks = &keySets{matchers: topic.NewMatcherCache(0)}
	if ks.protocol, err = mercure.ParseProtocol(k.protocol); err != nil {
		return nil, nil, nil, usageError{fmt.Errorf("--protocol: %s", plain(err))}
	}
	if k.resourceID != "" {
		if err := mercure.CheckResourceIdentifier(k.resourceID); err != nil {
			return nil, nil, nil, usageError{fmt.Errorf("--resource-identifier: %s", plain(err))}
		}
	}
	if urls := k.publicURLList(); len(urls) > 0 {
		if k.resourceID != "" {
			return nil, nil, nil, usageError{errors.New("--public-urls: only without --resource-identifier (which says where the hub is)")}
		}
		for _, u := range urls {
			if err := mercure.CheckPublicURL(u); err != nil {
				return nil, nil, nil, usageError{fmt.Errorf("--public-urls: %s", plain(err))}
			}
		}
	}
	client, err := k.jwksClient()
	if err != nil {
		return nil, nil, nil, usageError{err}
	}
	defer func() {
		if err != nil {
			ks.Close()
		}
	}()
	byURL := map[string]*auth.KeySet{}
	fetch := func(what, url string) (*auth.KeySet, error) {
		if set := byURL[url]; set != nil { // one set per URL: one fetch, one series of metrics
			return set, nil
		}
		set, err := auth.NewKeySet(ctx, auth.KeySetConfig{
			URL: url, Client: client, MinRefreshInterval: k.jwksMinRefresh, Algs: jwksAlgs(algs),
			OnRefresh: keySetLogger(log, what),
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %s", what, plain(err))
		}
		ks.sets = append(ks.sets, set)
		byURL[url] = set
		return set, nil
	}
	role := func(name, key, jwksURL string) (*auth.Verifier, error) {
		if key == "" && jwksURL == "" {
			return nil, nil
		}
		cfg := auth.Config{Algs: algs}
		if key != "" {
			b, err := auth.LoadKey(key)
			if err != nil {
				return nil, usageError{fmt.Errorf("%s key: %w", name, err)}
			}
			cfg.Keys = [][]byte{b}
		}
		if jwksURL != "" {
			set, err := fetch("--"+name+"-jwks-url", jwksURL)
			if err != nil {
				return nil, err
			}
			cfg.KeySet = set
		}
		v, err := auth.NewVerifier(cfg)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s key: %w", name, err)}
		}
		return v, nil
	}
	if publishers, err = role("publisher", pubKey, k.publisherJWKS); err != nil {
		return nil, nil, nil, err
	}
	if subscribers, err = role("subscriber", subKey, k.subscriberJWKS); err != nil {
		return nil, nil, nil, err
	}

	var issuers []auth.Issuer
	for _, spec := range k.issuers {
		id, key, ok := strings.Cut(spec, "=")
		if !ok || id == "" || key == "" {
			return nil, nil, nil, usageError{fmt.Errorf("--issuer %q: want ID=KEY, where KEY is a JWK Set URL or a key", spec)}
		}
		is := auth.Issuer{ID: id, Algs: algs}
		if strings.HasPrefix(key, "https://") || strings.HasPrefix(key, "http://") {
			if is.KeySet, err = fetch("--issuer "+id, key); err != nil {
				return nil, nil, nil, err
			}
		} else {
			b, err := auth.LoadKey(key)
			if err != nil {
				return nil, nil, nil, usageError{fmt.Errorf("--issuer %s: %v", id, err)}
			}
			is.Keys = [][]byte{b}
		}
		issuers = append(issuers, is)
	}
	if len(issuers) > 0 {
		if ks.access, err = auth.NewAccessVerifier(auth.AccessConfig{Issuers: issuers, Matchers: ks.matchers}); err != nil {
			return nil, nil, nil, usageError{fmt.Errorf("--issuer: %s", plain(err))}
		}
	}
	return publishers, subscribers, ks, nil
}

// jwksAlgs is the allow-list of a JWK Set: --jwt-alg's asymmetric
// algorithms (a set's keys are public keys), or every one when it names
// none.
func jwksAlgs(algs []string) []string {
	var out []string
	for _, a := range algs {
		if !strings.HasPrefix(a, "HS") {
			out = append(out, a)
		}
	}
	return out
}

// jwksClient is the HTTP client JWK Sets are fetched with: the default
// one, also trusting --jwks-ca when given.
func (k *keysConfig) jwksClient() (*http.Client, error) {
	if k.jwksCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(k.jwksCA)
	if err != nil {
		return nil, fmt.Errorf("--jwks-ca: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--jwks-ca %s: no PEM certificate in it", k.jwksCA)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: auth.DefaultJWKSTimeout, Transport: tr}, nil
}

// keySetLogger logs the refreshes of a key set that matter: a failure
// (keys in hand stay in use), and the first success after failures.
func keySetLogger(log *slog.Logger, what string) func(auth.KeySetStatus) {
	failing := false
	return func(st auth.KeySetStatus) {
		switch {
		case st.LastError != nil:
			failing = true
			log.Warn("fetching a JWK Set failed; the keys fetched before stay in use", "keys", what, "url", st.URL,
				"err", st.LastError, "held", st.Keys, "next", st.NextRefresh.Format(time.RFC3339))
		case failing:
			failing = false
			log.Info("fetching a JWK Set works again", "keys", what, "url", st.URL, "held", st.Keys)
		}
	}
}

// mercureConfig sets the draft-08 fields of c.
func (k *keysConfig) mercureConfig(c *mercure.Config, ks *keySets) {
	c.Protocol = ks.protocol
	c.Access = ks.access
	c.ResourceIdentifier = k.resourceID
	c.PublicURLs = k.publicURLList()
	c.AccessCookie = k.cookieName
	c.Matchers = ks.matchers
}

// publicURLList returns --public-urls' values, trimmed.
func (k *keysConfig) publicURLList() []string {
	var urls []string
	for u := range strings.SplitSeq(k.publicURLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// KeySets returns the status of every JWK Set, for /healthz and /metrics.
func (ks *keySets) KeySets() []auth.KeySetStatus {
	if ks == nil {
		return nil
	}
	out := make([]auth.KeySetStatus, len(ks.sets))
	for i, s := range ks.sets {
		out[i] = s.Status()
	}
	return out
}

// health writes a line per JWK Set for /healthz: its keys and last refresh,
// or why its refreshes fail. A set that fails does not make the hub
// unhealthy: the keys it holds still verify tokens.
func (ks *keySets) health(w io.Writer) {
	for _, st := range ks.KeySets() {
		if st.Healthy() {
			fmt.Fprintf(w, "jwks %s ok: %d keys, fetched %s\n", st.URL, st.Keys, st.LastRefresh.UTC().Format(time.RFC3339))
			continue
		}
		fmt.Fprintf(w, "jwks %s failing: %v (%d failed fetches; using the %d keys fetched %s; next attempt %s)\n",
			st.URL, st.LastError, st.Failures, st.Keys, st.LastRefresh.UTC().Format(time.RFC3339), st.NextRefresh.UTC().Format(time.RFC3339))
	}
}

// Close stops the refreshes of every set.
func (ks *keySets) Close() {
	if ks == nil {
		return
	}
	for _, s := range ks.sets {
		s.Close()
	}
}
