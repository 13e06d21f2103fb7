package auth

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// KeySet, when set, adds the keys of a JWK Set fetched from a URL (see
	// [NewKeySet]); Keys may then be empty. A token naming a kid is
	// verified only with the set's keys of that kid (and the configured
	// Keys). The Verifier does not close the set.
	KeySet *KeySet
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
	keys      *keyring
	allowed   []string // sorted, for messages
	parser    *jwt.Parser
	leeway    time.Duration
	audience  string
	issuer    string
	selectors *topic.Cache
	cache     *clockcache.Cache[*Claims] // verified tokens; nil when disabled
}

// NewVerifier returns a Verifier for cfg. It fails, with an error wrapping
// [herald.ErrInvalid], when there is no key (neither Keys nor KeySet), a key
// cannot be parsed, an algorithm is unknown or "none", or a key (or the key
// set) can verify none of the allowed algorithms.
func NewVerifier(cfg Config) (*Verifier, error) {
	ring, err := newKeyring(cfg.Keys, cfg.KeySet, cfg.Algs, "JWT key")
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		keys:      ring,
		allowed:   ring.allowed,
		leeway:    cfg.Leeway,
		audience:  cfg.Audience,
		issuer:    cfg.Issuer,
		selectors: cfg.Selectors,
	}
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
	v.cache = newTokenCache(cfg.CacheSize)
	return v, nil
}

// newTokenCache returns a cache of size verified tokens (zero:
// DefaultCacheSize), or nil, no cache, when size is negative.
func newTokenCache(size int) *clockcache.Cache[*Claims] {
	if size == 0 {
		size = DefaultCacheSize
	}
	if size < 0 {
		return nil
	}
	return clockcache.New[*Claims](size)
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
	key := v.cacheKey(token)
	if v.cache != nil {
		if c, ok := v.cache.Get(key); ok {
			if err := checkTime(c, time.Now(), v.leeway); err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	var tc tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &tc, v.keys.keyFor)
	if err != nil {
		return nil, v.explain(parsed, &tc, err)
	}
	c, err := newClaims(&tc, v.selectors)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		c = v.cache.Add(key, c)
	}
	return c, nil
}

// cacheKey is token, prefixed with the key set's generation when there is
// one: a token is verified again once the set's keys change, so that one
// signed with a key the provider removed is refused from then on.
func (v *Verifier) cacheKey(token string) string {
	if v.keys.set == nil {
		return token
	}
	return strconv.FormatUint(v.keys.generation(), 36) + " " + token
}

// KeySets returns the status of the Verifier's key set, if it has one.
func (v *Verifier) KeySets() []KeySetStatus { return v.keys.keySets() }

// checkTime applies the exp and nbf rules of the jwt library (with the same
// leeway) to cached claims.
func checkTime(c *Claims, now time.Time, leeway time.Duration) error {
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt.Add(leeway)) {
		return expiredError(c.ExpiresAt)
	}
	if !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-leeway)) {
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

// headerRefusal explains the refusals both kinds of token share: a
// malformed token, and a header without an alg or with one not in allowed
// (nil when err is none of those). It returns the header's alg too.
func headerRefusal(t *jwt.Token, err error, allowed []string) (alg string, refused error) {
	if t != nil {
		alg, _ = t.Header["alg"].(string)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg := strings.TrimPrefix(err.Error(), jwt.ErrTokenMalformed.Error()+": ")
		return alg, unauthorized(jwt.ErrTokenMalformed, "malformed token: %s", msg)
	case t != nil && alg == "":
		return alg, unauthorized(jwt.ErrTokenMalformed, "malformed token: no alg in header")
	case t != nil && !slices.Contains(allowed, alg):
		return alg, unauthorized(jwt.ErrTokenSignatureInvalid, "unexpected alg %q (allowed: %s)", alg, strings.Join(allowed, ", "))
	}
	return alg, nil
}

// explain turns a jwt library error into one wrapping herald.ErrUnauthorized
// that says why the token was refused.
func (v *Verifier) explain(t *jwt.Token, tc *tokenClaims, err error) error {
	alg, refused := headerRefusal(t, err, v.allowed)
	switch {
	case refused != nil:
		return refused
	case errors.Is(err, errUnknownKid):
		kid, _ := t.Header["kid"].(string)
		return unauthorized(jwt.ErrTokenSignatureInvalid, "unknown kid %q: no trusted key has it", kid)
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
