package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// serveConfig is everything `herald serve` is told by its flags.
type serveConfig struct {
	addr            string
	publisherKey    string
	subscriberKey   string
	jwtKey          string
	jwtAlg          string
	anonymous       bool
	corsOrigins     string
	heartbeat       time.Duration
	subscriptions   bool
	storeURL        string
	dataDir         string
	historySize     int
	historyMaxAge   time.Duration
	historyMaxBytes int64
	queueLimit      int
	writeTimeout    time.Duration
	maxBody         int64
	maxTopics       int
	shutdownTimeout time.Duration
	shutdownRetry   time.Duration
	demo            bool
	logLevel        string
	logFormat       string
	pprofAddr       string
	tlsCert         string
	tlsKey          string
	limits          limitsConfig
	batch           batchLimits // --max-batch, --max-batch-body (servebatch.go)
	keys            keysConfig  // JWK Sets and draft 08: keys.go
}

func serveFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "localhost:8080", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&c.jwtKey, "jwt-key", "", "key verifying both publisher and subscriber tokens: an HMAC secret, PEM text, or @path to a PEM file")
	fs.StringVar(&c.publisherKey, "publisher-jwt-key", "", "key verifying publisher tokens (overrides --jwt-key)")
	fs.StringVar(&c.subscriberKey, "subscriber-jwt-key", "", "key verifying subscriber tokens (overrides --jwt-key)")
	fs.StringVar(&c.jwtAlg, "jwt-alg", "", "allowed JWT algorithms, comma-separated (default: HS256 for secrets, RS256/ES256 by PEM key type)")
	fs.BoolVar(&c.anonymous, "anonymous", true, "allow subscribers without a token (they receive public updates only)")
	fs.StringVar(&c.corsOrigins, "cors-origins", "", "origins allowed to use the hub from browsers on other origins, comma-separated: those listed may use cookies (mercureAuthorization); * allows every other origin without credentials")
	fs.DurationVar(&c.heartbeat, "heartbeat", hub.DefaultHeartbeat, "send a comment on streams silent for this long (0 disables)")
	fs.BoolVar(&c.subscriptions, "subscriptions", false, "publish subscription events and serve the subscriptions API")
	fs.StringVar(&c.storeURL, "store", "bolt:", "history store: "+storeForms)
	fs.StringVar(&c.dataDir, "data-dir", "./herald-data", "directory of the embedded store (bolt:), and of the development key when no JWT key is given")
	fs.IntVar(&c.historySize, "history-size", 1_000_000, "keep at most this many updates in history (0: no count limit)")
	fs.DurationVar(&c.historyMaxAge, "history-max-age", 0, "drop updates older than this from history (0: no age limit)")
	fs.Int64Var(&c.historyMaxBytes, "history-max-bytes", 0, "keep at most this many bytes of updates in history (0: no size limit)")
	fs.IntVar(&c.queueLimit, "queue-limit", hub.DefaultQueueLimit, "events that may wait for one subscriber before it is disconnected as too slow")
	fs.DurationVar(&c.writeTimeout, "write-timeout", hub.DefaultWriteTimeout, "disconnect a subscriber when one write to it takes longer")
	fs.Int64Var(&c.maxBody, "max-body", mercure.DefaultMaxBodyBytes, "largest publish request body, in bytes as sent (form-encoded: a byte of data may take three); see also --max-data")
	fs.IntVar(&c.maxTopics, "max-topics", mercure.DefaultMaxTopics, "most topics per update and topic selectors per subscription")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	fs.DurationVar(&c.shutdownRetry, "shutdown-retry", hub.DefaultShutdownRetry, "on shutdown, tell each subscriber to reconnect after a random delay of up to this long (0: send no delay)")
	fs.BoolVar(&c.demo, "demo", true, "let the demo page at / send messages to its demo topic without a token (the page and its debugging panel are served either way)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS and HTTP/2 with this certificate (PEM, with its chain); re-read when it changes. HTTP/2 lifts browsers' limit of 6 HTTP/1.1 connections per site, which every EventSource and tab shares")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM); re-read when it changes")
	c.limits.flags(fs)
	c.keys.flags(fs)
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) and runtime variables (/debug/vars, for herald bench --memstats) on this separate address, e.g. localhost:6060; keep it private (empty: off)")
	c.batch.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: herald serve [flags]\n\nRuns the hub. Every flag can also be set with an environment variable HERALD_<FLAG>,\ne.g. HERALD_ADDR=:8080 or HERALD_PUBLISHER_JWT_KEY=secret.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var c serveConfig
	fs := serveFlags(&c)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("serve takes no arguments, got %q", fs.Args())}
	}
	log, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return usageError{err}
	}
	return serve(ctx, c, log, stdout, nil)
}

// serve runs the hub until ctx is done. When ready is not nil it receives the
// listening address once the hub accepts connections.
//
// It checks everything it was told first, then opens its listeners, and
// only then the store (which may create the data directory, and a 64 MiB
// write-ahead log in it): a start that fails leaves nothing behind.
func serve(ctx context.Context, c serveConfig, log *slog.Logger, stdout io.Writer, ready chan<- string) error {
	var certs *certReloader
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	if c.tlsCert != "" {
		var err error
		if certs, err = newCertReloader(c.tlsCert, c.tlsKey, log); err != nil {
			return usageError{err}
		}
	}
	spec, err := parseStore(c.storeURL, c.dataDir)
	if err != nil {
		return err
	}
	pubKey, subKey := cmp.Or(c.publisherKey, c.jwtKey), cmp.Or(c.subscriberKey, c.jwtKey)
	algs := splitList(c.jwtAlg)
	// Keys, JWK Sets (fetched now: a start without them fails) and draft 08.
	publishers, subscribers, keys, err := c.keys.verifiers(ctx, pubKey, subKey, algs, log)
	if err != nil {
		return err
	}
	defer keys.Close()

	var mc mercure.Config
	if err := c.limits.mercureConfig(&mc); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	defer ln.Close() // in case a later step fails
	var pprofURL string
	if c.pprofAddr != "" {
		var stop func()
		if pprofURL, stop, err = startProfiler(c.pprofAddr, log); err != nil {
			return err
		}
		defer stop()
	}

	store, undo, err := openStore(spec, herald.Retention{
		MaxCount: c.historySize, MaxAge: c.historyMaxAge, MaxBytes: c.historyMaxBytes,
	}, log)
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store failed", "err", err)
		}
		if !started {
			undo()
		}
	}()
	var dev *devKey
	if publishers == nil && subscribers == nil && keys.access == nil && keys.protocol != mercure.ProtocolDraft08 {
		k, err := developmentKey(spec, log)
		if err != nil {
			return err
		}
		dev = &k
		if publishers, err = newVerifier(k.secret, algs); err != nil {
			return usageError{fmt.Errorf("development key: %w", err)}
		}
		subscribers = publishers
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return err
	}
	m.StoreUp(true)
	opts := hub.Options{
		Heartbeat:     orNone(c.heartbeat),
		QueueLimit:    c.queueLimit,
		WriteTimeout:  c.writeTimeout,
		ShutdownRetry: orNone(c.shutdownRetry),
		Metrics:       m,
		Logger:        log,
	}
	c.limits.hubOptions(&opts)
	h := hub.New(store, opts)
	m.ObserveHub(h.Stats)
	if err := metrics.RegisterKeySets(reg, keys); err != nil {
		return err
	}
	mc.Hub, mc.Publishers, mc.Subscribers = h, publishers, subscribers
	mc.NoAnonymous = !c.anonymous
	mc.CORSOrigins = splitList(c.corsOrigins)
	mc.Subscriptions = c.subscriptions
	mc.MaxTopics = c.maxTopics
	mc.MaxBodyBytes = c.maxBody
	mc.Metrics, mc.Logger = m, log
	// Batch limits (servebatch.go).
	mc.MaxBatch, mc.MaxBatchBodyBytes = int(c.batch.max.v), c.batch.maxBody.v
	c.keys.mercureConfig(&mc, keys)
	mh, err := mercure.New(mc)
	if err != nil {
		return err
	}
	var protocol http.Handler = mh
	if dev != nil {
		protocol = withKeyHint(mh, dev.hint())
	}

	mux := http.NewServeMux()
	mux.Handle(mercure.Path, protocol)
	mux.Handle(mercure.Path+"/", protocol)
	mux.Handle(mercure.MetadataPath, protocol)
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", healthz(h, store, m, keys))
	stopDemo, err := mountDemo(mux, h, c, log)
	if err != nil {
		return err
	}
	defer stopDemo()

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: c.limits.headerTimeout,
		IdleTimeout:       c.limits.idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		// No WriteTimeout: streams are long-lived; the hub bounds each
		// write. No ReadTimeout: publish bodies have their own deadline
		// (--body-timeout), and streams read nothing.
	}
	conns := newLimitListener(ln, c.limits.connectionLimit(), c.limits.maxClientConnections, c.limits.trusted(), certs != nil, log, m)
	conns.unsent = c.limits.unsentBytes
	m.ObserveConnections(conns.Open, conns.max)
	srv.RegisterOnShutdown(h.CloseStreams)
	scheme := "http"
	if certs != nil {
		srv.TLSConfig = certs.tlsConfig()
		scheme = "https"
	}

	started = true
	base := scheme + "://" + ln.Addr().String()
	if dev != nil {
		dev.printBanner(stdout, base)
	}
	// Logged last: whoever waits for this line finds everything set up.
	attrs := []any{"url", base, "hub", base + mercure.Path, "store", spec.String(), "anonymous", c.anonymous}
	if pprofURL != "" {
		attrs = append(attrs, "pprof", pprofURL)
	}
	st := h.Stats()
	attrs = append(attrs, "version", buildVersion(), "max_connections", conns.max, "max_subscribers", st.MaxSubscribers)
	log.Info("herald is listening", attrs...)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	errc := make(chan error, 1)
	go func() {
		if certs != nil {
			errc <- srv.ServeTLS(conns, "", "")
		} else {
			errc <- srv.Serve(conns)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", c.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	herr := make(chan error, 1)
	go func() { herr <- h.Close(sctx) }()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("some requests did not finish in time", "err", err)
		srv.Close()
	}
	if err := <-herr; err != nil {
		log.Warn("some streams did not end in time", "err", err)
	}
	log.Info("stopped")
	return nil
}

// orNone turns a flag's 0 ("none") into the hub's negative "disabled".
func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// healthz reports whether the hub can serve: 503 while its store's backend is
// unreachable or the hub is shutting down.
func healthz(h *hub.Hub, store herald.Store, m *metrics.Metrics, keys *keySets) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if hc, ok := store.(herald.HealthChecker); ok {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			err := hc.Healthy(ctx)
			m.StoreUp(err == nil)
			if err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not ready: store: %v\n", err)
				return
			}
		}
		if h.Closing() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready: shutting down")
			return
		}
		fmt.Fprintf(w, "ok\nsubscribers %d\n", h.Subscribers())
		keys.health(w) // JWK Sets: a failing one is reported, not fatal
	}
}

func newVerifier(key string, algs []string) (*auth.Verifier, error) {
	k, err := auth.LoadKey(key)
	if err != nil {
		return nil, err
	}
	return auth.NewVerifier(auth.Config{Algs: algs, Keys: [][]byte{k}})
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
