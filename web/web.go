package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
)

// Defaults for [Config].
const (
	DefaultTopic           = "demo"
	DefaultInterval        = 3 * time.Second
	DefaultMaxMessageBytes = 1024
	DefaultSendRate        = 1.0 // messages per second per client
	DefaultSendBurst       = 5
	DefaultGlobalSendRate  = 20.0 // messages per second, all clients together
	DefaultGlobalSendBurst = 40
)

// Config configures a [Demo]. Only Hub is required.
type Config struct {
	// Hub publishes the demo's events and serves its stream. Required.
	Hub *hub.Hub
	// Topic is the demo topic. Default DefaultTopic.
	Topic string
	// AllowPublish lets visitors send messages to the demo topic without a
	// token (POST /demo/send). When false that path answers 403.
	AllowPublish bool
	// Interval is the period of the "tick" event broadcast while anyone is
	// on the demo stream. Default DefaultInterval.
	Interval time.Duration
	// MaxMessageBytes is the largest message /demo/send accepts, in bytes
	// of UTF-8. Default DefaultMaxMessageBytes.
	MaxMessageBytes int
	// SendRate and SendBurst bound how many messages one client address may
	// send (a token bucket: SendRate per second, up to SendBurst at once).
	// Defaults DefaultSendRate and DefaultSendBurst.
	SendRate  float64
	SendBurst int
	// GlobalSendRate and GlobalSendBurst bound the messages of all clients
	// together. Defaults DefaultGlobalSendRate and DefaultGlobalSendBurst.
	GlobalSendRate  float64
	GlobalSendBurst int
	// HubURL is the base URL (scheme://host[:port], no path) of the hub the
	// page talks to, when the page is served from another origin than the
	// hub. Empty: the page's own origin. That hub must allow the page's
	// origin in its CORS origins.
	HubURL string
	// CORSOrigins are the origins whose pages may use this demo's endpoints
	// from a browser, with the Mercure handler's rules (mercure.CORS): those
	// listed with credentials, "*" every other origin without. Use the same
	// list as the Mercure handler.
	CORSOrigins []string
	// Logger receives logs; nil uses slog.Default().
	Logger *slog.Logger
}

// Demo serves the demo page and its endpoints (see the package
// documentation). Create it with [New], mount it at the root of a mux, and
// run [Demo.Run] for as long as it is served. It is safe for concurrent use.
type Demo struct {
	cfg        Config
	corsPolicy *mercure.CORS
	log        *slog.Logger
	mux        *http.ServeMux
	page       []byte
	csp        string
	sends      *limiter
	greets     *limiter

	streams atomic.Int64  // open demo streams
	events  atomic.Uint64 // updates seen by Run since it started
	rate    atomic.Uint64 // updates in the last whole second seen by Run
	running atomic.Bool
}

// New checks cfg, fills in defaults and returns a Demo.
func New(cfg Config) (*Demo, error) {
	if cfg.Hub == nil {
		return nil, errors.New("web: Config.Hub is required")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if err := herald.ValidateTopic(cfg.Topic); err != nil {
		return nil, fmt.Errorf("web: demo topic: %w", err)
	}
	if strings.ContainsAny(cfg.Topic, "{}*") {
		return nil, fmt.Errorf("web: demo topic %q: %w: it must be a plain topic, not a selector", cfg.Topic, herald.ErrInvalid)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.SendRate <= 0 {
		cfg.SendRate = DefaultSendRate
	}
	if cfg.SendBurst <= 0 {
		cfg.SendBurst = DefaultSendBurst
	}
	if cfg.GlobalSendRate <= 0 {
		cfg.GlobalSendRate = DefaultGlobalSendRate
	}
	if cfg.GlobalSendBurst <= 0 {
		cfg.GlobalSendBurst = DefaultGlobalSendBurst
	}
	if cfg.HubURL != "" {
		u, err := url.Parse(cfg.HubURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("web: hub URL %q: %w: want scheme://host[:port]", cfg.HubURL, herald.ErrInvalid)
		}
		cfg.HubURL = u.Scheme + "://" + u.Host
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Demo{
		cfg:        cfg,
		corsPolicy: mercure.NewCORS(cfg.CORSOrigins, cfg.Logger),
		log:        cfg.Logger,
		sends:      newLimiter(cfg.SendRate, cfg.SendBurst, cfg.GlobalSendRate, cfg.GlobalSendBurst),
		greets:     newLimiter(greetRate, greetBurst, globalGreetRate, globalGreetBurst),
	}
	if err := d.renderPage(); err != nil {
		return nil, err
	}
	d.mux = http.NewServeMux()
	d.mux.HandleFunc("GET /{$}", d.servePage)
	d.mux.HandleFunc("GET /assets/{name}", d.serveAsset)
	d.mux.HandleFunc("GET "+HeraldJSPath, d.serveHeraldJS)
	d.mux.HandleFunc("/demo/stream", d.serveStream)
	d.mux.HandleFunc("/demo/send", d.serveSend)
	d.mux.HandleFunc("/demo/stats", d.serveStats)
	return d, nil
}

// ServeHTTP serves the page and the demo's endpoints; other paths get 404.
func (d *Demo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mux.ServeHTTP(w, r)
}

// Run broadcasts the periodic "tick" event while anyone is on the demo
// stream, and measures the hub's events per second for /demo/stats, until
// ctx is done; then it returns nil. Run must be called at most once at a
// time. Without Run, the page works but gets no ticks and no event rate.
func (d *Demo) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("web: Demo.Run is already running")
	}
	defer d.running.Store(false)
	var wg sync.WaitGroup
	wg.Go(func() { d.count(ctx) })
	wg.Go(func() { d.tick(ctx) })
	wg.Wait()
	return nil
}

// count counts the updates the store yields, and once a second records how
// many the last second held.
func (d *Demo) count(ctx context.Context) {
	store := d.cfg.Hub.Store()
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			err := store.Watch(ctx, func(batch []herald.Update) { d.events.Add(uint64(len(batch))) })
			if err == nil || ctx.Err() != nil || errors.Is(err, herald.ErrClosed) {
				return
			}
			d.log.Debug("demo: watching the store failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
	t := time.NewTicker(time.Second)
	defer t.Stop()
	prev := d.events.Load()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			n := d.events.Load()
			d.rate.Store(n - prev)
			prev = n
		}
	}
}

// tick publishes the periodic event while anyone is on the demo stream.
func (d *Demo) tick(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := d.streams.Load()
			if n <= 0 {
				continue
			}
			data := fmt.Sprintf("Server time %s UTC · %s on this page · a tick every %s",
				now.UTC().Format("15:04:05"), people(n), every(d.cfg.Interval))
			d.publish(ctx, herald.Update{Topics: []string{d.cfg.Topic}, Type: "tick", Data: data})
		}
	}
}

// publish publishes u and logs a failure; it reports whether u was stored.
func (d *Demo) publish(ctx context.Context, u herald.Update) (herald.Update, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stored, err := d.cfg.Hub.Publish(ctx, u)
	if err != nil {
		lvl := slog.LevelWarn
		if errors.Is(err, herald.ErrClosed) || errors.Is(err, context.Canceled) {
			lvl = slog.LevelDebug
		}
		d.log.Log(ctx, lvl, "demo: publishing failed", "type", u.Type, "err", err)
		return herald.Update{}, false
	}
	return stored, true
}

// people says how many people are connected, in words.
func people(n int64) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}
