package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald"
)

// Defaults and bounds of a [KeySet].
const (
	// DefaultJWKSRefresh is how often a key set is fetched again when the
	// provider's response carries no Cache-Control max-age.
	DefaultJWKSRefresh = time.Hour
	// DefaultJWKSMinRefresh is the shortest time between two fetches of a
	// key set: the floor of a max-age, and the rate limit of the fetches a
	// token with an unknown kid triggers.
	DefaultJWKSMinRefresh = 30 * time.Second
	// DefaultJWKSMaxRefresh is the longest time a fetched key set is used
	// before it is fetched again, whatever max-age says.
	DefaultJWKSMaxRefresh = 24 * time.Hour
	// DefaultJWKSTimeout bounds one fetch.
	DefaultJWKSTimeout = 10 * time.Second
	// MaxJWKSBytes is the largest key set document accepted.
	MaxJWKSBytes = 1 << 20
	// MaxJWKSKeys is the most keys a key set may hold.
	MaxJWKSKeys = 256
)

// KeySetConfig configures a [KeySet]. Only URL is required.
type KeySetConfig struct {
	// URL is where the JWK Set (RFC 7517 §5) is fetched. It must be https;
	// plain http is accepted only to a loopback host (localhost, 127.0.0.0/8,
	// ::1), for development and tests.
	URL string
	// Client fetches the set. Nil means a client with a timeout of
	// DefaultJWKSTimeout. Whatever the client, a redirect to a URL that
	// would be refused as URL is not followed.
	Client *http.Client
	// RefreshInterval is how often the set is fetched again when the
	// response has no Cache-Control max-age. Zero means DefaultJWKSRefresh.
	RefreshInterval time.Duration
	// MinRefreshInterval is the shortest time between two fetches: a
	// max-age below it is raised to it, and a token whose kid the set does
	// not hold triggers a fetch only when the last one started at least
	// this long ago, so a flood of tokens with random kids costs the
	// provider at most one request per MinRefreshInterval. Zero means
	// DefaultJWKSMinRefresh.
	MinRefreshInterval time.Duration
	// MaxRefreshInterval caps max-age. Zero means DefaultJWKSMaxRefresh.
	MaxRefreshInterval time.Duration
	// Algs is the allow-list of algorithms the set's keys may verify; empty
	// means every supported asymmetric algorithm (RS*, PS*, ES*, EdDSA),
	// plus HS256/384/512 when AllowHMAC is set. "none" is never allowed.
	// Each key is further pinned to its own "alg" member when it has one,
	// and always to the algorithms of its type and curve.
	Algs []string
	// AllowHMAC accepts symmetric ("oct") keys of at least 32 bytes. They
	// are skipped otherwise: a shared secret published at a URL is rarely
	// intended.
	AllowHMAC bool
	// OnRefresh, when set, is called after every fetch attempt with the
	// set's status (LastError says whether it failed), from the goroutine
	// that fetched. It must not block; it suits metrics and logs.
	OnRefresh func(KeySetStatus)
}

// KeySetStatus describes a [KeySet] for health checks and metrics.
type KeySetStatus struct {
	// URL is the set's URL.
	URL string
	// Keys is the number of usable keys held now.
	Keys int
	// LastRefresh is when the set was last fetched successfully.
	LastRefresh time.Time
	// LastAttempt is when the last fetch started.
	LastAttempt time.Time
	// LastError is the error of the last fetch, nil when it succeeded. The
	// keys of the last successful fetch stay in use meanwhile.
	LastError error
	// Refreshes and Failures count successful and failed fetches since the
	// set was created (the first fetch included).
	Refreshes, Failures uint64
	// RateLimited counts the fetches an unknown kid would have triggered
	// but that MinRefreshInterval refused.
	RateLimited uint64
	// NextRefresh is when the next scheduled fetch is due.
	NextRefresh time.Time
}

// Healthy reports whether the last fetch succeeded.
func (s KeySetStatus) Healthy() bool { return s.LastError == nil }

// KeySetReporter is implemented by what holds key sets ([KeySet], [Verifier]
// and [AccessVerifier]), so that a hub can report them in /healthz and
// /metrics without knowing where they come from.
type KeySetReporter interface {
	// KeySets returns the status of every key set, in configuration order;
	// none when keys are only static.
	KeySets() []KeySetStatus
}

// KeySet is a JWK Set fetched over HTTPS, cached, and fetched again on a
// schedule and when a token names a kid it does not hold. It is safe for
// concurrent use; Close stops its refreshes.
type KeySet struct {
	url       string
	client    *http.Client
	every     time.Duration
	min, max  time.Duration
	algs      []string // allowed, sorted
	allowHMAC bool
	onRefresh func(KeySetStatus)
	now       func() time.Time // replaced in tests

	keys atomic.Pointer[jwkKeys]

	fetchMu sync.Mutex // serializes fetches; guards lastStart

	lastStart time.Time

	statMu sync.Mutex
	stat   KeySetStatus

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// jwkKeys is one fetched set: the keys by kid ("" for keys without one).
type jwkKeys struct {
	byKid map[string][]verificationKey
	all   []verificationKey
	gen   uint64
}

// NewKeySet fetches the set at cfg.URL and returns it, refreshing itself in
// the background until Close. It fails when the configuration is invalid
// (an error wrapping [herald.ErrInvalid]: a URL that is not https and not
// http to a loopback host, an unknown algorithm) or when the set cannot be
// fetched or holds no usable key (an error wrapping [herald.ErrUnavailable]
// that says why: the hub should not start without its keys). ctx bounds the
// first fetch only.
func NewKeySet(ctx context.Context, cfg KeySetConfig) (*KeySet, error) {
	if err := checkJWKSURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("%w: JWKS URL %q: %v", herald.ErrInvalid, cfg.URL, err)
	}
	algs, err := keySetAlgs(cfg.Algs, cfg.AllowHMAC)
	if err != nil {
		return nil, err
	}
	ks := &KeySet{
		url:       cfg.URL,
		every:     orDefault(cfg.RefreshInterval, DefaultJWKSRefresh),
		min:       orDefault(cfg.MinRefreshInterval, DefaultJWKSMinRefresh),
		max:       orDefault(cfg.MaxRefreshInterval, DefaultJWKSMaxRefresh),
		algs:      algs,
		allowHMAC: cfg.AllowHMAC,
		onRefresh: cfg.OnRefresh,
		now:       time.Now,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	ks.max = max(ks.max, ks.min)
	ks.every = min(max(ks.every, ks.min), ks.max)
	ks.client = &http.Client{Timeout: DefaultJWKSTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if cfg.Client != nil {
		c := *cfg.Client
		ks.client = &c
	}
	ks.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		if err := checkJWKSURL(req.URL.String()); err != nil {
			return fmt.Errorf("refusing redirect to %s: %v", req.URL, err)
		}
		return nil
	}
	ks.stat.URL = cfg.URL
	next, err := ks.refresh(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: JWKS %s: %v", herald.ErrUnavailable, cfg.URL, err)
	}
	go ks.loop(next)
	return ks, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// checkJWKSURL accepts https URLs, and http URLs to a loopback host.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return errors.New("plain http is only allowed to a loopback host; use https")
	}
	return fmt.Errorf("scheme %q is not https", u.Scheme)
}

// keySetAlgs returns the sorted algorithms a key set's keys may verify.
func keySetAlgs(allow []string, hmac bool) ([]string, error) {
	def := slices.Concat(rsaAlgs, []string{"ES256", "ES384", "ES512"}, edAlgs)
	if hmac {
		def = append(def, hmacAlgs...)
	}
	if len(allow) == 0 {
		slices.Sort(def)
		return def, nil
	}
	var out []string
	for _, a := range allow {
		if !knownAlg(a) {
			return nil, fmt.Errorf("%w: JWT algorithm %q is not supported", herald.ErrInvalid, a)
		}
		if slices.Contains(hmacAlgs, a) && !hmac {
			return nil, fmt.Errorf("%w: JWKS algorithm %s needs AllowHMAC", herald.ErrInvalid, a)
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// URL returns the set's URL.
func (ks *KeySet) URL() string { return ks.url }

// Algs returns the algorithms the set's keys may verify, sorted.
func (ks *KeySet) Algs() []string { return slices.Clone(ks.algs) }

// Status returns the set's current status.
func (ks *KeySet) Status() KeySetStatus {
	ks.statMu.Lock()
	defer ks.statMu.Unlock()
	return ks.stat
}

// KeySets returns the set's status, as the one element of the slice.
func (ks *KeySet) KeySets() []KeySetStatus { return []KeySetStatus{ks.Status()} }

// Close stops the background refreshes, waits for a fetch under way to end
// and closes the client's idle connections. The keys held stay usable. It is
// safe to call more than once.
func (ks *KeySet) Close() {
	ks.closeOnce.Do(func() { close(ks.stop) })
	<-ks.done
	ks.client.CloseIdleConnections()
}

func (ks *KeySet) loop(next time.Duration) {
	defer close(ks.done)
	t := time.NewTimer(next)
	defer t.Stop()
	for {
		select {
		case <-ks.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-ks.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		next, _ = ks.refresh(ctx)
		cancel()
		t.Reset(next)
	}
}

// refresh fetches the set, installs its keys when it is usable, records the
// outcome and returns when to fetch next: the max-age (or RefreshInterval)
// after a success, a backoff from MinRefreshInterval after a failure.
func (ks *KeySet) refresh(ctx context.Context) (time.Duration, error) {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	return ks.refreshLocked(ctx, true)
}

// refreshLocked is refresh with fetchMu held; scheduled says whether the
// fetch is the one the schedule ran (only that one sets NextRefresh).
func (ks *KeySet) refreshLocked(ctx context.Context, scheduled bool) (time.Duration, error) {
	start := ks.now()
	ks.lastStart = start
	keys, maxAge, err := ks.fetch(ctx)
	next := ks.every
	if maxAge >= 0 {
		next = min(max(maxAge, ks.min), ks.max)
	}
	ks.statMu.Lock()
	ks.stat.LastAttempt = start
	ks.stat.LastError = err
	if err != nil {
		ks.stat.Failures++
		// Back off from MinRefreshInterval, doubling per consecutive
		// failure, up to RefreshInterval.
		next = ks.min
		for i := uint64(1); i < min(ks.stat.Failures, 16) && next < ks.every; i++ {
			next *= 2
		}
		next = min(next, ks.every)
	} else {
		if old := ks.keys.Load(); old != nil {
			keys.gen = old.gen
			if !sameKeys(old, keys) {
				keys.gen++
			}
		}
		ks.keys.Store(keys)
		ks.stat.Refreshes++
		ks.stat.LastRefresh = start
		ks.stat.Keys = len(keys.all)
	}
	if scheduled {
		ks.stat.NextRefresh = start.Add(next)
	}
	st := ks.stat
	ks.statMu.Unlock()
	if ks.onRefresh != nil {
		ks.onRefresh(st)
	}
	return next, err
}

// fetch GETs and parses the set. maxAge is -1 when the response sets none.
func (ks *KeySet) fetch(ctx context.Context) (*jwkKeys, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultJWKSTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, -1, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, -1, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, -1, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
	if err != nil {
		return nil, -1, fmt.Errorf("reading the key set: %w", err)
	}
	if len(body) > MaxJWKSBytes {
		return nil, -1, fmt.Errorf("the key set is larger than %d bytes", MaxJWKSBytes)
	}
	keys, err := parseJWKS(body, ks.algs, ks.allowHMAC)
	if err != nil {
		return nil, -1, err
	}
	return keys, maxAge(resp.Header), nil
}

// maxAge returns the max-age of a Cache-Control header, 0 for no-store or
// no-cache, and -1 when there is none.
func maxAge(h http.Header) time.Duration {
	age := time.Duration(-1)
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
					age = time.Duration(min(n, int64(365*24*3600))) * time.Second
				}
			}
		}
	}
	return age
}

func sameKeys(a, b *jwkKeys) bool {
	if len(a.all) != len(b.all) {
		return false
	}
	for i := range a.all {
		if a.all[i].kid != b.all[i].kid || !slices.Equal(a.all[i].algs, b.all[i].algs) || !keysEqual(a.all[i].key, b.all[i].key) {
			return false
		}
	}
	return true
}

// generation changes whenever the set's keys change, so that tokens
// verified with removed keys are verified again.
func (ks *KeySet) generation() uint64 { return ks.keys.Load().gen }

// forKid returns the keys that may verify a token signed with alg and
// naming kid ("" for none: every key of the set that may verify alg), and
// whether the set holds kid at all. When it does not, the set is fetched
// again, unless the last fetch started less than MinRefreshInterval ago.
func (ks *KeySet) forKid(alg, kid string) (keys []any, known bool) {
	cur := ks.keys.Load()
	if _, known = cur.byKid[kid]; known || kid == "" {
		return cur.find(alg, kid), known
	}
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	// Another caller may have fetched while this one waited.
	if cur = ks.keys.Load(); cur.byKid[kid] == nil {
		if ks.now().Sub(ks.lastStart) < ks.min {
			ks.statMu.Lock()
			ks.stat.RateLimited++
			ks.statMu.Unlock()
			return nil, false
		}
		ks.refreshLocked(context.Background(), false)
		cur = ks.keys.Load()
	}
	_, known = cur.byKid[kid]
	return cur.find(alg, kid), known
}

func (k *jwkKeys) find(alg, kid string) []any {
	list := k.all
	if kid != "" {
		list = k.byKid[kid]
	}
	var out []any
	for _, vk := range list {
		if slices.Contains(vk.algs, alg) {
			out = append(out, vk.key)
		}
	}
	return out
}
