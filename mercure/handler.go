package mercure

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/topic"
	"golang.org/x/time/rate"
)

// Path is the well-known path of a Mercure hub.
const Path = "/.well-known/mercure"

// Defaults for [Config].
const (
	DefaultMaxTopics         = 64
	DefaultMaxSelectorLength = herald.MaxTopicLength
	DefaultMaxSelectorBytes  = 16 << 10
	DefaultMaxBodyBytes      = 4 << 20
	DefaultMaxDataBytes      = 1 << 20
	DefaultBodyTimeout       = 10 * time.Second
	// DefaultMaxBatch is the default of Config.MaxBatch: the most updates
	// every store takes in one batch.
	DefaultMaxBatch = herald.MaxBatchLen
	// DefaultMaxBatchBodyBytes is the default of Config.MaxBatchBodyBytes.
	DefaultMaxBatchBodyBytes = 16 << 20
	// DefaultAnonymousSubscriptionEvents: anonymous subscribers may make
	// the hub announce about 15 subscriptions of 64 topics a second.
	DefaultAnonymousSubscriptionEvents = 1000
	DefaultSubscriptionsPageSize       = 1000
)

// Config configures a [Handler].
type Config struct {
	// Hub receives publications and serves streams. Required.
	Hub *hub.Hub
	// Publishers verifies publishers' tokens. Nil: every publish is refused.
	Publishers *auth.Verifier
	// Subscribers verifies subscribers' tokens. Nil: tokens are refused and
	// subscribers are anonymous (public updates only).
	Subscribers *auth.Verifier
	// NoAnonymous refuses subscribers that present no token.
	NoAnonymous bool
	// CORSOrigins are the origins allowed to use the hub from a browser on
	// another origin: those listed with credentials (cookies), and with
	// AnyOrigin ("*") every other origin without credentials. See [CORS].
	CORSOrigins []string
	// Subscriptions turns on subscription events and the subscriptions API.
	Subscriptions bool
	// SubscriptionsPageSize is the largest number of subscriptions the
	// subscriptions API lists in one answer. Default
	// DefaultSubscriptionsPageSize.
	SubscriptionsPageSize int
	// AnonymousSubscriptionEvents bounds the subscription events that
	// subscribers without a token can make the hub announce, per second
	// (with a burst of as many); past it their events are dropped and
	// counted. Default DefaultAnonymousSubscriptionEvents; negative: no
	// bound.
	AnonymousSubscriptionEvents int
	// MaxTopics bounds the topic selectors of a subscription and the topics of
	// an update. Default DefaultMaxTopics.
	MaxTopics int
	// MaxSelectorLength bounds a topic selector, in bytes.
	// Default DefaultMaxSelectorLength.
	MaxSelectorLength int
	// MaxSelectorBytes bounds the topic selectors of one subscription
	// together, in bytes. Default DefaultMaxSelectorBytes.
	MaxSelectorBytes int
	// MaxBodyBytes bounds a publish request's body as sent, form-encoded
	// (where one byte of data may take three). Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxDataBytes bounds the data of one update, as subscribers receive it.
	// Default DefaultMaxDataBytes.
	MaxDataBytes int
	// MaxBatch bounds the updates of one batch (at BatchPath); at most
	// herald.MaxBatchLen. Default DefaultMaxBatch.
	MaxBatch int
	// MaxBatchBodyBytes bounds the body of a batch request, as sent.
	// Default DefaultMaxBatchBodyBytes.
	MaxBatchBodyBytes int64
	// BodyTimeout bounds the time to receive a publish request's body; a
	// slower one gets a 408 and its connection is closed. Default
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
	// ClientAddress names the client a request comes from, for the hub's
	// per-client limits; nil uses ClientAddress (the connection's peer). Use
	// ForwardedClientAddress behind proxies.
	ClientAddress func(*http.Request) string
	// Metrics receives protocol-level counters; nil discards them.
	Metrics Metrics
	// Logger receives logs; nil uses slog.Default().
	Logger *slog.Logger

	// Draft 08 (draft-dunglas-mercure-08, the Mercure 1.0 line): see draft08.go.

	// Protocol restricts the generations served; the zero value serves both,
	// each request in the generation it speaks.
	Protocol Protocol
	// Access verifies draft-08 access tokens. Nil: they are refused (401
	// invalid_token); draft-08 subscribers without a token are still served
	// public updates.
	Access *auth.AccessVerifier
	// ResourceIdentifier is the hub's resource identifier: the audience
	// (aud) draft-08 tokens must name, the base URL of relative URL
	// patterns and topics, and what its protected resource metadata
	// describes; an absolute http(s) URL, the hub's public URL (such as
	// https://hub.example.com/.well-known/mercure). Empty: derived from each
	// request's origin, scheme://Host + Path, as Mercure 1.0 does (one
	// compiled URL pattern per origin, within the Matchers cache's bounds).
	ResourceIdentifier string
	// PublicURLs, when ResourceIdentifier is empty, are the origins
	// (scheme://host[:port], see CheckPublicURL) the hub is reached at: a
	// draft-08 request sent to any other origin is answered 421 Misdirected
	// Request, rather than served with a resource identifier derived from a
	// Host header its client chose. Empty: every origin is served. Draft-07
	// requests, which have no resource identifier, are not concerned.
	PublicURLs []string
	// AccessCookie is the cookie a browser sends its draft-08 access token
	// in. Default auth.AccessCookieName (__Secure-mercure_access_token).
	AccessCookie string
	// Matchers compiles draft-08 matchers; nil uses a private cache of
	// topic.DefaultCacheSize entries and topic.DefaultMatcherCacheBytes.
	// Share it with the AccessVerifier (auth.AccessConfig.Matchers).
	Matchers *topic.MatcherCache
}

// Metrics receives protocol-level counters.
type Metrics interface {
	AuthFailure(kind string)
	PublishError(reason string)
}

type nopMetrics struct{}

func (nopMetrics) AuthFailure(string)  {}
func (nopMetrics) PublishError(string) {}

// Handler serves the Mercure endpoints under [Path]. Mount it at Path, at
// Path+"/" and at [MetadataPath] (or at the root of a mux).
type Handler struct {
	cfg  Config
	cors *CORS
	// anonymousEvents limits the subscription events of anonymous
	// subscribers; nil: no limit.
	anonymousEvents *rate.Limiter
	// listing holds a token while the subscriptions API lists.
	listing chan struct{}
	// paths are the paths of the hub's URL (see hubPaths).
	paths []string
	// public is the set of Config.PublicURLs' origins (see originKey); nil:
	// every origin is served.
	public map[string]bool
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Hub == nil {
		return nil, errors.New("mercure: Config.Hub is required")
	}
	if cfg.MaxTopics <= 0 {
		cfg.MaxTopics = DefaultMaxTopics
	}
	if cfg.MaxSelectorLength <= 0 {
		cfg.MaxSelectorLength = DefaultMaxSelectorLength
	}
	if cfg.MaxSelectorBytes <= 0 {
		cfg.MaxSelectorBytes = DefaultMaxSelectorBytes
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxDataBytes <= 0 {
		cfg.MaxDataBytes = DefaultMaxDataBytes
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if err := batchLimits(&cfg); err != nil {
		return nil, err
	}
	if cfg.ClientAddress == nil {
		cfg.ClientAddress = ClientAddress
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if slices.Contains(cfg.CORSOrigins, AnyOrigin) {
		cfg.Logger.Warn("CORS origin * lets pages on any site use the hub without credentials only: the mercureAuthorization cookie works only from origins listed in full")
	}
	if cfg.SubscriptionsPageSize <= 0 {
		cfg.SubscriptionsPageSize = DefaultSubscriptionsPageSize
	}
	if err := setDraft08Defaults(&cfg); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, cors: NewCORS(cfg.CORSOrigins, cfg.Logger), listing: make(chan struct{}, 1), paths: hubPaths(cfg.ResourceIdentifier), public: publicOrigins(cfg.PublicURLs)}
	switch n := cfg.AnonymousSubscriptionEvents; {
	case n == 0:
		h.anonymousEvents = rate.NewLimiter(DefaultAnonymousSubscriptionEvents, DefaultAnonymousSubscriptionEvents)
	case n > 0:
		h.anonymousEvents = rate.NewLimiter(rate.Limit(n), n)
	}
	return h, nil
}

// ServeHTTP routes a request under Path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cors.Handle(w, r) {
		return
	}
	path := r.URL.Path
	switch {
	case path == Path:
		switch r.Method {
		case http.MethodGet:
			h.subscribe(w, r)
		case http.MethodPost:
			h.publish(w, r)
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			httpError(w, http.StatusMethodNotAllowed, "method %s is not allowed; subscribe with GET, publish with POST", r.Method)
		}
	case path == Path+"/subscriptions" || strings.HasPrefix(path, Path+"/subscriptions/"):
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.subscriptions(w, r)
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, OPTIONS")
			httpError(w, http.StatusMethodNotAllowed, "method %s is not allowed", r.Method)
		}
	case path == BatchPath:
		switch r.Method {
		case http.MethodPost:
			h.publishBatch(w, r)
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "POST, OPTIONS")
			httpError(w, http.StatusMethodNotAllowed, "method %s is not allowed; publish a batch with POST", r.Method)
		}
	case path == MetadataPath:
		h.metadata(w, r)
	default:
		http.NotFound(w, r)
	}
}
