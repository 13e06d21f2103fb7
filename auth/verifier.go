package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/clockcache"
	"github.com/herald-sse/herald/topic"
)

// DefaultCacheSize is the number of verified tokens a [Verifier] caches when
// [Config.CacheSize] is zero.
const DefaultCacheSize = 4096

// MaxTokenLength is the longest token Verify accepts, in bytes. Longer
// strings are refused before any decoding.
const MaxTokenLength = 64 << 10

// Config configures a [Verifier]. Only Keys is required.
type Config struct {
	// Keys are the keys that may have signed a token; a token verified by
	// any one of them is accepted, so a new key can be added before the old
	// one is removed (rotation). Each is either an HMAC secret (any bytes
	// that are not PEM) or PEM text holding one or more public keys
	// ("PUBLIC KEY", "RSA PUBLIC KEY"), certificates ("CERTIFICATE") or
	// private keys, of which only the public half is used. See [LoadKey].
	Keys [][]byte
	// Algs is the allow-list of "alg" header values. Each key verifies only
	// the listed algorithms of its own type: HS256/384/512 for a secret,
	// RS256/384/512 and PS256/384/512 for RSA, ES256, ES384 or ES512 for an
	// ECDSA key on the matching curve, EdDSA for Ed25519. Empty means every
	// algorithm of the configured keys' types. "none" is never allowed.
	Algs []string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// Issuer, when set, must be the token's iss.
	Issuer string
	// Leeway is the clock skew tolerated on exp and nbf: a token is refused
	// from exp+Leeway on, and before nbf-Leeway. Zero (the default) means
	// none, as the Mercure hub does.
	Leeway time.Duration
	// CacheSize bounds the verified-token cache: zero means
	// DefaultCacheSize, negative disables the cache.
	CacheSize int
	// Selectors compiles the selectors of the claims. Sharing the hub's
	// cache makes equal selector strings yield the same *topic.Selector.
	// Nil means a private cache of topic.DefaultCacheSize.
	Selectors *topic.Cache
}

// Verifier verifies tokens for one role (publisher or subscriber). It is
// safe for concurrent use.
type Verifier struct {
	byAlg     map[string][]any // allowed alg -> keys of the matching type
	allowed   []string         // sorted keys of byAlg, for messages
	parser    *jwt.Parser
	leeway    time.Duration
	audience  string
	issuer    string
	selectors *topic.Cache
	cache     *clockcache.Cache[*Claims] // verified tokens; nil when disabled
}

// NewVerifier returns a Verifier for cfg. It fails, with an error wrapping
// [herald.ErrInvalid], when there is no key, a key cannot be parsed, an
// algorithm is unknown or "none", or a key can verify none of the allowed
// algorithms.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: no JWT verification key configured", herald.ErrInvalid)
	}
	for _, alg := range cfg.Algs {
		if !knownAlg(alg) {
			return nil, fmt.Errorf("%w: JWT algorithm %q is not supported (want one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)", herald.ErrInvalid, alg)
		}
	}
	v := &Verifier{
		byAlg:     make(map[string][]any),
		leeway:    cfg.Leeway,
		audience:  cfg.Audience,
		issuer:    cfg.Issuer,
		selectors: cfg.Selectors,
	}
	for i, raw := range cfg.Keys {
		keys, err := parseVerificationKeys(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: JWT key %d: %v", herald.ErrInvalid, i+1, err)
		}
		for _, k := range keys {
			algs := k.algs
			if len(cfg.Algs) > 0 {
				algs = intersect(k.algs, cfg.Algs)
			}
			if len(algs) == 0 {
				return nil, fmt.Errorf("%w: JWT key %d is an %s, which cannot verify any allowed algorithm (%s)", herald.ErrInvalid, i+1, k.desc, strings.Join(cfg.Algs, ", "))
			}
			for _, alg := range algs {
				v.byAlg[alg] = append(v.byAlg[alg], k.key)
			}
		}
	}
	for alg := range v.byAlg {
		v.allowed = append(v.allowed, alg)
	}
	slices.Sort(v.allowed)

	opts := []jwt.ParserOption{jwt.WithValidMethods(v.allowed), jwt.WithLeeway(cfg.Leeway)}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v.parser = jwt.NewParser(opts...)
	if v.selectors == nil {
		v.selectors = topic.NewCache(0)
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		v.cache = clockcache.New[*Claims](size)
	}
	return v, nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Algs returns the algorithms the Verifier accepts, sorted.
func (v *Verifier) Algs() []string { return slices.Clone(v.allowed) }

// Verify checks token (a compact JWS, without "Bearer ") and returns what it
// grants. The token must be signed with an allowed algorithm by one of the
// configured keys of the matching type, be within its exp and nbf (give or
// take Config.Leeway), carry the configured audience and issuer, and hold
// valid selectors in its mercure claim. Its claims are then cached, keyed by
// the token string, so verifying it again costs a map lookup; a cached token
// is still refused from its exp on.
//
// Errors wrap [herald.ErrUnauthorized] and say why: no token, malformed,
// unexpected alg, invalid signature, expired, not valid yet, wrong audience
// or issuer, invalid selector. Where the jwt library has a sentinel for the
// reason they wrap it too (jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet,
// jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid — also for an
// unexpected alg —, jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer),
// whether the refusal came from a full verification or from the cache.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", herald.ErrUnauthorized)
	}
	if len(token) > MaxTokenLength {
		return nil, fmt.Errorf("%w: token is %d bytes long, the limit is %d", herald.ErrUnauthorized, len(token), MaxTokenLength)
	}
	if v.cache != nil {
		if c, ok := v.cache.Get(token); ok {
			if err := v.checkTime(c, time.Now()); err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	var tc tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &tc, v.keyFor)
	if err != nil {
		return nil, v.explain(parsed, &tc, err)
	}
	c, err := newClaims(&tc, v.selectors)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		c = v.cache.Add(token, c)
	}
	return c, nil
}

// checkTime applies the exp and nbf rules of the jwt library (with the same
// leeway) to cached claims.
func (v *Verifier) checkTime(c *Claims, now time.Time) error {
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt.Add(v.leeway)) {
		return expiredError(c.ExpiresAt)
	}
	if !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-v.leeway)) {
		return notYetError(c.NotBefore)
	}
	return nil
}

func expiredError(exp time.Time) error {
	return unauthorized(jwt.ErrTokenExpired, "token expired at %s", exp.UTC().Format(time.RFC3339))
}

func notYetError(nbf time.Time) error {
	return unauthorized(jwt.ErrTokenNotValidYet, "token is not valid before %s", nbf.UTC().Format(time.RFC3339))
}

// authError is a refusal: its message says why, and it wraps
// herald.ErrUnauthorized and, when there is one, the jwt library's sentinel
// for the reason (jwt.ErrTokenExpired, ...), without repeating its text.
type authError struct {
	msg    string
	causes []error
}

func (e *authError) Error() string   { return e.msg }
func (e *authError) Unwrap() []error { return e.causes }

// unauthorized returns an error wrapping herald.ErrUnauthorized and cause
// (which may be nil), with the message "herald: unauthorized: " + format.
func unauthorized(cause error, format string, args ...any) error {
	e := &authError{
		msg:    herald.ErrUnauthorized.Error() + ": " + fmt.Sprintf(format, args...),
		causes: []error{herald.ErrUnauthorized},
	}
	if cause != nil {
		e.causes = append(e.causes, cause)
	}
	return e
}

// keyFor returns the keys that may verify t: only those whose type matches
// its (allowed) algorithm.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	keys := v.byAlg[t.Method.Alg()]
	switch len(keys) {
	case 0: // unreachable: the parser checks the allow-list first
		return nil, fmt.Errorf("no key for alg %q", t.Method.Alg())
	case 1:
		return keys[0], nil
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return set, nil
}

// explain turns a jwt library error into one wrapping herald.ErrUnauthorized
// that says why the token was refused.
func (v *Verifier) explain(t *jwt.Token, tc *tokenClaims, err error) error {
	var alg string
	if t != nil {
		alg, _ = t.Header["alg"].(string)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg := strings.TrimPrefix(err.Error(), jwt.ErrTokenMalformed.Error()+": ")
		return unauthorized(jwt.ErrTokenMalformed, "malformed token: %s", msg)
	case t != nil && alg == "":
		return unauthorized(jwt.ErrTokenMalformed, "malformed token: no alg in header")
	case t != nil && v.byAlg[alg] == nil:
		return unauthorized(jwt.ErrTokenSignatureInvalid, "unexpected alg %q (allowed: %s)", alg, strings.Join(v.allowed, ", "))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthorized(jwt.ErrTokenSignatureInvalid, "invalid signature: no configured key verifies this %s token", alg)
	case errors.Is(err, jwt.ErrTokenExpired) && tc.ExpiresAt != nil:
		return expiredError(tc.ExpiresAt.Time)
	case errors.Is(err, jwt.ErrTokenNotValidYet) && tc.NotBefore != nil:
		return notYetError(tc.NotBefore.Time)
	case errors.Is(err, jwt.ErrTokenInvalidAudience),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && v.audience != "" && len(tc.Audience) == 0:
		return unauthorized(jwt.ErrTokenInvalidAudience, "token audience does not include %q", v.audience)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && v.issuer != "" && tc.Issuer == "":
		return unauthorized(jwt.ErrTokenInvalidIssuer, "token issuer is not %q", v.issuer)
	}
	return unauthorized(err, "%v", err)
}
