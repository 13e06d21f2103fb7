package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
)

// keyring is the keys one role or one issuer verifies with: configured keys
// by algorithm, and optionally a JWK Set. Every key verifies only the
// algorithms of its own type (and its JWK's alg), within the allow-list.
type keyring struct {
	static  map[string][]any // allowed alg -> configured keys of the matching type
	set     *KeySet
	setAlgs []string // algorithms the set's keys may verify, within the allow-list
	allowed []string // sorted union: what the parser accepts
}

// errUnknownKid reports a token whose kid no trusted key has.
var errUnknownKid = errors.New("unknown kid")

// newKeyring parses keys (see Config.Keys) and checks them against algs.
// what names the keys in messages ("JWT key" for draft-07, "issuer ...
// key" for an issuer). Errors wrap herald.ErrInvalid.
func newKeyring(keys [][]byte, set *KeySet, algs []string, what string) (*keyring, error) {
	if len(keys) == 0 && set == nil {
		return nil, fmt.Errorf("%w: no JWT verification key configured", herald.ErrInvalid)
	}
	for _, alg := range algs {
		if !knownAlg(alg) {
			return nil, fmt.Errorf("%w: JWT algorithm %q is not supported (want one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)", herald.ErrInvalid, alg)
		}
	}
	r := &keyring{static: make(map[string][]any), set: set}
	for i, raw := range keys {
		parsed, err := parseVerificationKeys(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %d: %v", herald.ErrInvalid, what, i+1, err)
		}
		for _, k := range parsed {
			kalgs := k.algs
			if len(algs) > 0 {
				kalgs = intersect(k.algs, algs)
			}
			if len(kalgs) == 0 {
				return nil, fmt.Errorf("%w: %s %d is an %s, which cannot verify any allowed algorithm (%s)", herald.ErrInvalid, what, i+1, k.desc, strings.Join(algs, ", "))
			}
			for _, alg := range kalgs {
				r.static[alg] = append(r.static[alg], k.key)
			}
		}
	}
	if set != nil {
		r.setAlgs = set.Algs()
		if len(algs) > 0 {
			r.setAlgs = intersect(r.setAlgs, algs)
		}
		if len(r.setAlgs) == 0 {
			return nil, fmt.Errorf("%w: the JWKS %s may verify none of the allowed algorithms (%s)", herald.ErrInvalid, set.URL(), strings.Join(algs, ", "))
		}
	}
	for alg := range r.static {
		r.allowed = append(r.allowed, alg)
	}
	r.allowed = append(r.allowed, r.setAlgs...)
	slices.Sort(r.allowed)
	r.allowed = slices.Compact(r.allowed)
	return r, nil
}

// keyFor returns what the jwt library verifies t with: the keys that may
// verify its algorithm, only those of its kid in the key set (which is
// fetched again, rate-limited, when it does not hold that kid), and every
// configured key of the matching type.
func (r *keyring) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var keys []any
	known := true
	if r.set != nil && slices.Contains(r.setAlgs, alg) {
		keys, known = r.set.forKid(alg, kid)
	}
	keys = append(keys, r.static[alg]...)
	switch len(keys) {
	case 0:
		if kid != "" && !known {
			return nil, fmt.Errorf("%w %q", errUnknownKid, kid)
		}
		return nil, fmt.Errorf("no key for alg %q", alg)
	case 1:
		return keys[0], nil
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return set, nil
}

// generation changes when the key set's keys change; 0 without a set.
func (r *keyring) generation() uint64 {
	if r.set == nil {
		return 0
	}
	return r.set.generation()
}

// keySets returns the status of the ring's key set, if any.
func (r *keyring) keySets() []KeySetStatus {
	if r.set == nil {
		return nil
	}
	return r.set.KeySets()
}
