package auth

import (
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// Grant describes the token [Sign] mints.
type Grant struct {
	// Publish becomes mercure.publish. Nil leaves the claim out (no right
	// to publish); an empty non-nil slice writes [].
	Publish []string
	// Subscribe becomes mercure.subscribe, with the same nil/empty rule.
	Subscribe []string
	// Payload, when not nil, becomes mercure.payload (marshalled as JSON).
	Payload any
	// Subject, Audience and Issuer, when not empty, become sub, aud, iss.
	Subject  string
	Audience string
	Issuer   string
	// TTL, when positive, sets exp to now+TTL. Zero or negative: no exp,
	// the token never expires.
	TTL time.Duration
}

// Sign mints a token for g, signed with key by alg. key is an HMAC secret for
// HS256/384/512, or a PEM private key ("PRIVATE KEY", "RSA PRIVATE KEY",
// "EC PRIVATE KEY") for RS*/PS* (RSA), ES256/384/512 (ECDSA on the matching
// curve) and EdDSA (Ed25519). An empty alg means [DefaultAlg] of key. A
// secret is never used with an RSA/EC algorithm nor a PEM key with HS*. The
// token carries iat (now), and exp when g.TTL is positive. Selectors are
// checked with [topic.Compile]. Errors wrap [herald.ErrInvalid].
func Sign(alg string, key []byte, g Grant) (string, error) {
	k, algs, err := signingKey(key)
	if err != nil {
		return "", fmt.Errorf("%w: signing key: %v", herald.ErrInvalid, err)
	}
	if alg == "" {
		alg = algs[0]
	}
	if !slices.Contains(algs, alg) {
		if !knownAlg(alg) {
			return "", fmt.Errorf("%w: JWT algorithm %q is not supported", herald.ErrInvalid, alg)
		}
		return "", fmt.Errorf("%w: a %s token cannot be signed with this key (it signs %v)", herald.ErrInvalid, alg, algs)
	}
	mercure := map[string]any{}
	for _, list := range []struct {
		name      string
		selectors []string
	}{{"publish", g.Publish}, {"subscribe", g.Subscribe}} {
		if list.selectors == nil {
			continue
		}
		for _, s := range list.selectors {
			if _, err := topic.Compile(s); err != nil {
				return "", fmt.Errorf("mercure.%s: %w", list.name, err)
			}
		}
		mercure[list.name] = list.selectors
	}
	if g.Payload != nil {
		mercure["payload"] = g.Payload
	}
	now := time.Now()
	claims := jwt.MapClaims{"mercure": mercure, "iat": jwt.NewNumericDate(now)}
	if g.TTL > 0 {
		claims["exp"] = jwt.NewNumericDate(now.Add(g.TTL))
	}
	if g.Subject != "" {
		claims["sub"] = g.Subject
	}
	if g.Audience != "" {
		claims["aud"] = g.Audience
	}
	if g.Issuer != "" {
		claims["iss"] = g.Issuer
	}
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims).SignedString(k)
	if err != nil {
		return "", fmt.Errorf("%w: signing token: %v", herald.ErrInvalid, err)
	}
	return s, nil
}
