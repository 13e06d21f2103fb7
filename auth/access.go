package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/clockcache"
	"github.com/herald-sse/herald/topic"
)

// DefaultPatternBase is the base URL relative URL patterns of a token are
// resolved against when the resource identifier a token is verified for is
// not an absolute http(s) URL.
const DefaultPatternBase = "https://localhost/.well-known/mercure"

// Issuer is one trusted issuer of draft-8 access tokens: an authorization
// server, or a publisher issuing its own tokens. A token is verified only
// with the keys of the issuer its iss names (draft-08 "Token Validation").
type Issuer struct {
	// ID is the issuer identifier, compared exactly with the token's iss.
	ID string
	// Keys and KeySet are the issuer's keys, as in [Config]: at least one
	// of them is required.
	Keys   [][]byte
	KeySet *KeySet
	// Algs is the issuer's algorithm allow-list, as in [Config].
	Algs []string
}

// AccessConfig configures an [AccessVerifier]. Only Issuers is required.
type AccessConfig struct {
	// Issuers are the trusted issuers, each with its own keys.
	Issuers []Issuer
	// Leeway is the clock skew tolerated on exp and nbf.
	Leeway time.Duration
	// CacheSize bounds the verified-token cache: zero means
	// DefaultCacheSize, negative disables it.
	CacheSize int
	// Matchers compiles the topic matchers of authorization details.
	// Sharing the hub's cache makes equal matchers share one compiled
	// matcher and its match cache. Nil means a private cache.
	Matchers *topic.MatcherCache
	// MaxDetails and MaxDetailTopics bound the Mercure authorization
	// details of one token and the matchers of one detail; a token over
	// them is refused. Zero means DefaultMaxDetails, DefaultMaxDetailTopics.
	MaxDetails, MaxDetailTopics int
}

// AccessVerifier verifies the access tokens of draft-dunglas-mercure-08:
// JWT access tokens (RFC 9068) carrying Mercure authorization details (RFC
// 9396). It is safe for concurrent use.
type AccessVerifier struct {
	issuers  map[string]*keyring
	order    []string // issuer IDs in configuration order
	allowed  []string // union of the issuers' algorithms, for the parser
	parser   *jwt.Parser
	leeway   time.Duration
	limits   detailLimits
	matchers *topic.MatcherCache
	cache    *clockcache.Cache[*Claims]
}

// NewAccessVerifier returns an AccessVerifier for cfg. It fails, with an
// error wrapping [herald.ErrInvalid], when there is no issuer, an issuer has
// an empty or repeated ID or no key, or a key or algorithm is invalid (see
// [NewVerifier]).
func NewAccessVerifier(cfg AccessConfig) (*AccessVerifier, error) {
	if len(cfg.Issuers) == 0 {
		return nil, fmt.Errorf("%w: no trusted token issuer configured", herald.ErrInvalid)
	}
	v := &AccessVerifier{
		issuers:  make(map[string]*keyring),
		leeway:   cfg.Leeway,
		limits:   detailLimits{details: cfg.MaxDetails, topics: cfg.MaxDetailTopics},
		matchers: cfg.Matchers,
	}
	for _, is := range cfg.Issuers {
		if is.ID == "" {
			return nil, fmt.Errorf("%w: an issuer has no ID (the iss value its tokens carry)", herald.ErrInvalid)
		}
		if v.issuers[is.ID] != nil {
			return nil, fmt.Errorf("%w: issuer %q is configured twice", herald.ErrInvalid, is.ID)
		}
		ring, err := newKeyring(is.Keys, is.KeySet, is.Algs, "issuer "+strconv.Quote(is.ID)+" key")
		if err != nil {
			return nil, fmt.Errorf("issuer %q: %w", is.ID, err)
		}
		v.issuers[is.ID] = ring
		v.order = append(v.order, is.ID)
		v.allowed = append(v.allowed, ring.allowed...)
	}
	slices.Sort(v.allowed)
	v.allowed = slices.Compact(v.allowed)
	v.parser = jwt.NewParser(jwt.WithValidMethods(v.allowed), jwt.WithLeeway(cfg.Leeway), jwt.WithExpirationRequired())
	if v.limits.details <= 0 {
		v.limits.details = DefaultMaxDetails
	}
	if v.limits.topics <= 0 {
		v.limits.topics = DefaultMaxDetailTopics
	}
	if v.matchers == nil {
		v.matchers = topic.NewMatcherCache(0)
	}
	v.cache = newTokenCache(cfg.CacheSize)
	return v, nil
}

// Issuers returns the IDs of the trusted issuers, in configuration order.
func (v *AccessVerifier) Issuers() []string { return slices.Clone(v.order) }

// KeySets returns the status of the issuers' key sets, in configuration order.
func (v *AccessVerifier) KeySets() []KeySetStatus {
	var out []KeySetStatus
	for _, id := range v.order {
		out = append(out, v.issuers[id].keySets()...)
	}
	return out
}

// accessClaims is the JSON shape of an access token's claims set.
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID             string          `json:"client_id"`
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
}

var (
	errWrongType     = errors.New("not an access token")
	errUnknownIssuer = errors.New("unknown issuer")
	errIssuerAlg     = errors.New("alg not allowed for the issuer")
)

// Verify checks an access token presented to the hub whose resource
// identifier is resource, and returns what it grants (Draft 8, Details set),
// as draft-dunglas-mercure-08 "Token Validation" says: its typ header must
// be at+jwt (or application/at+jwt, case-insensitively); its iss must name a
// configured issuer, whose keys alone verify it, with an allowed algorithm
// of the key's type (a kid selects the key); exp is required and enforced
// (give or take Leeway), and nbf when present; aud must be resource or hold
// it; every Mercure authorization detail must be valid (see [Detail]) and
// within the limits. sub, client_id, iat and jti are returned, not required.
//
// resource is per call because a hub may derive it from the request's origin.
// It is also the base URL relative URL patterns in the token resolve against
// when it is an absolute http(s) URL (draft-08 recommends the hub's URL as
// its resource identifier); otherwise [DefaultPatternBase] is.
//
// Verified tokens are cached, keyed by resource and token (and dropped when
// an issuer's key set changes); a cached token is still refused from exp on.
// Every error wraps [herald.ErrUnauthorized] (an RFC 6750 invalid_token) and
// says why; an empty token also wraps [ErrNoToken].
func (v *AccessVerifier) Verify(token, resource string) (*Claims, error) {
	switch {
	case token == "":
		return nil, noToken("no token")
	case len(token) > MaxTokenLength:
		return nil, fmt.Errorf("%w: token is %d bytes long, the limit is %d", herald.ErrUnauthorized, len(token), MaxTokenLength)
	case resource == "":
		return nil, fmt.Errorf("%w: the hub has no resource identifier to check the token's audience against", herald.ErrUnauthorized)
	}
	key := v.cacheKey(token, resource)
	if v.cache != nil {
		if c, ok := v.cache.Get(key); ok {
			if err := checkTime(c, time.Now(), v.leeway); err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	var ac accessClaims
	parsed, err := v.parser.ParseWithClaims(token, &ac, v.keyFor)
	if err != nil {
		return nil, v.explain(parsed, &ac, err)
	}
	if !slices.Contains(ac.Audience, resource) {
		return nil, unauthorized(jwt.ErrTokenInvalidAudience, "token audience does not include %q", resource)
	}
	base := DefaultPatternBase
	if u, err := url.Parse(resource); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		base = resource
	}
	details, err := parseDetails(ac.AuthorizationDetails, v.limits, func(typ, value string) (*topic.Matcher, error) {
		return v.matchers.Compile(typ, value, base)
	})
	if err != nil {
		return nil, unauthorized(nil, "%v", err)
	}
	c := &Claims{
		Draft:     8,
		Details:   details,
		Subject:   ac.Subject,
		Issuer:    ac.Issuer,
		ClientID:  ac.ClientID,
		TokenID:   ac.ID,
		Audience:  ac.Audience,
		ExpiresAt: ac.ExpiresAt.Time,
	}
	if ac.NotBefore != nil {
		c.NotBefore = ac.NotBefore.Time
	}
	if ac.IssuedAt != nil {
		c.IssuedAt = ac.IssuedAt.Time
	}
	if v.cache != nil {
		c = v.cache.Add(key, c)
	}
	return c, nil
}

// cacheKey keys a verified token by the key sets' generations, the
// resource it was verified for, and the token.
func (v *AccessVerifier) cacheKey(token, resource string) string {
	var gen uint64
	for _, r := range v.issuers {
		gen += r.generation()
	}
	return strconv.FormatUint(gen, 36) + " " + resource + " " + token
}

// keyFor checks the header and the issuer, then returns the issuer's keys.
func (v *AccessVerifier) keyFor(t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !isAccessType(typ) {
		return nil, errWrongType
	}
	iss, err := t.Claims.GetIssuer()
	if err != nil || iss == "" {
		return nil, errUnknownIssuer
	}
	ring := v.issuers[iss]
	if ring == nil {
		return nil, errUnknownIssuer
	}
	if !slices.Contains(ring.allowed, t.Method.Alg()) {
		return nil, errIssuerAlg
	}
	return ring.keyFor(t)
}

// isAccessType reports whether a typ header value is at+jwt (RFC 9068 §4:
// "application/" may be left out, and media types are case-insensitive).
func isAccessType(typ string) bool {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/") == "at+jwt"
}

// explain turns a jwt library error into one wrapping herald.ErrUnauthorized
// that says why the token was refused.
func (v *AccessVerifier) explain(t *jwt.Token, ac *accessClaims, err error) error {
	alg, refused := headerRefusal(t, err, v.allowed)
	var typ, kid string
	if t != nil {
		typ, _ = t.Header["typ"].(string)
		kid, _ = t.Header["kid"].(string)
	}
	switch {
	case refused != nil:
		return refused
	case errors.Is(err, errWrongType):
		return unauthorized(jwt.ErrTokenMalformed, `token type (typ header) is %q, not "at+jwt": not an OAuth 2.0 access token`, typ)
	case errors.Is(err, errUnknownIssuer) && ac.Issuer == "":
		return unauthorized(jwt.ErrTokenInvalidIssuer, "token has no iss claim")
	case errors.Is(err, errUnknownIssuer):
		return unauthorized(jwt.ErrTokenInvalidIssuer, "token issuer %q is not trusted", ac.Issuer)
	case errors.Is(err, errIssuerAlg):
		return unauthorized(jwt.ErrTokenSignatureInvalid, "unexpected alg %q for issuer %q (allowed: %s)", alg, ac.Issuer, strings.Join(v.issuers[ac.Issuer].allowed, ", "))
	case errors.Is(err, errUnknownKid):
		return unauthorized(jwt.ErrTokenSignatureInvalid, "unknown kid %q: no key of issuer %q has it", kid, ac.Issuer)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthorized(jwt.ErrTokenSignatureInvalid, "invalid signature: no key of issuer %q verifies this %s token", ac.Issuer, alg)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && ac.ExpiresAt == nil:
		return unauthorized(jwt.ErrTokenRequiredClaimMissing, "token has no exp claim (an access token must expire)")
	case errors.Is(err, jwt.ErrTokenExpired) && ac.ExpiresAt != nil:
		return expiredError(ac.ExpiresAt.Time)
	case errors.Is(err, jwt.ErrTokenNotValidYet) && ac.NotBefore != nil:
		return notYetError(ac.NotBefore.Time)
	}
	return unauthorized(err, "%v", err)
}
