package auth

import (
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// AccessGrant describes the draft-8 access token [SignAccess] mints.
type AccessGrant struct {
	// Issuer (iss) and Audience (aud, the hub's resource identifier) are
	// required.
	Issuer, Audience string
	// Subject (sub) and ClientID (client_id) default to Issuer: RFC 9068
	// wants both, and a self-issuing publisher is its own client.
	Subject, ClientID string
	// TTL sets exp to now+TTL; it must be positive (access tokens expire).
	TTL time.Duration
	// KeyID, when set, becomes the kid header.
	KeyID string
	// Details become the authorization_details claim, one Mercure
	// authorization detail each.
	Details []DetailGrant
}

// DetailGrant is one Mercure authorization detail of an [AccessGrant].
type DetailGrant struct {
	// Actions are ActionPublish and/or ActionSubscribe.
	Actions []string
	// Topics are the detail's matchers.
	Topics []MatcherGrant
	// Payload, when not nil, becomes the detail's payload (a JSON object).
	Payload any
}

// MatcherGrant is one topic matcher of a [DetailGrant]. An empty MatchType
// leaves match_type out (exact).
type MatcherGrant struct {
	Match, MatchType string
}

// SignAccess mints an RFC 9068 access token for g (typ at+jwt, with iss, aud,
// sub, client_id, iat, exp and a random jti), signed with key by alg as
// [Sign] does. Matchers are checked with [topic.CompileMatcher] (relative URL
// patterns against Audience). Errors wrap [herald.ErrInvalid].
func SignAccess(alg string, key []byte, g AccessGrant) (string, error) {
	k, algs, err := signingKey(key)
	if err != nil {
		return "", fmt.Errorf("%w: signing key: %v", herald.ErrInvalid, err)
	}
	if alg == "" {
		alg = algs[0]
	}
	if !slices.Contains(algs, alg) {
		return "", fmt.Errorf("%w: a %s token cannot be signed with this key (it signs %v)", herald.ErrInvalid, alg, algs)
	}
	switch {
	case g.Issuer == "":
		return "", fmt.Errorf("%w: an access token needs an issuer", herald.ErrInvalid)
	case g.Audience == "":
		return "", fmt.Errorf("%w: an access token needs an audience (the hub's resource identifier)", herald.ErrInvalid)
	case g.TTL <= 0:
		return "", fmt.Errorf("%w: an access token needs a positive TTL", herald.ErrInvalid)
	}
	details := make([]map[string]any, 0, len(g.Details))
	for i, d := range g.Details {
		topics := make([]map[string]string, 0, len(d.Topics))
		for _, m := range d.Topics {
			typ := m.MatchType
			if typ == "" {
				typ = topic.MatchExact
			}
			if _, err := topic.CompileMatcher(typ, m.Match, g.Audience); err != nil {
				return "", fmt.Errorf("authorization detail %d: %w", i, err)
			}
			t := map[string]string{"match": m.Match}
			if m.MatchType != "" {
				t["match_type"] = m.MatchType
			}
			topics = append(topics, t)
		}
		e := map[string]any{"type": DetailType, "actions": d.Actions, "topics": topics}
		if d.Payload != nil {
			e["payload"] = d.Payload
		}
		details = append(details, e)
	}
	sub, client := g.Subject, g.ClientID
	if sub == "" {
		sub = g.Issuer
	}
	if client == "" {
		client = g.Issuer
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss":                   g.Issuer,
		"aud":                   g.Audience,
		"sub":                   sub,
		"client_id":             client,
		"iat":                   jwt.NewNumericDate(now),
		"exp":                   jwt.NewNumericDate(now.Add(g.TTL)),
		"jti":                   newUUID(),
		"authorization_details": details,
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	tok.Header["typ"] = "at+jwt"
	if g.KeyID != "" {
		tok.Header["kid"] = g.KeyID
	}
	s, err := tok.SignedString(k)
	if err != nil {
		return "", fmt.Errorf("%w: signing token: %v", herald.ErrInvalid, err)
	}
	return s, nil
}

// newUUID returns a random (version 4) UUID as a URN.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
