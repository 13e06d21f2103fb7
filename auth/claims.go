package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// Claims is what a verified token grants. A *Claims returned by
// [Verifier.Verify] may be shared with other callers (it comes from a cache):
// treat it as read-only. A nil *Claims (an anonymous client) grants nothing.
type Claims struct {
	// Publish holds the selectors of mercure.publish. Nil means the claim is
	// absent (or null): the token may not publish. An empty, non-nil slice
	// (the claim is []) also allows publishing nothing.
	Publish []*topic.Selector
	// Subscribe holds the selectors of mercure.subscribe, with the same
	// nil/empty convention: the token may receive no private update.
	// Public updates need no claim at all.
	Subscribe []*topic.Selector
	// Payload is mercure.payload, the raw JSON the hub attaches to the
	// subscriber in the subscriptions API; nil when absent or null.
	Payload json.RawMessage
	// Subject is the token's sub claim, if any.
	Subject string
	// ExpiresAt is the token's exp claim; zero when the token has none (it
	// then never expires). A hub closes a subscriber's stream at that time.
	ExpiresAt time.Time
	// NotBefore is the token's nbf claim; zero when the token has none.
	NotBefore time.Time

	// Draft is the protocol generation of the token: 7 for a token with a
	// mercure claim ([Verifier]), 8 for an RFC 9068 access token
	// ([AccessVerifier]). Zero is read as 7.
	Draft int
	// Details are the Mercure authorization details of a draft-8 token,
	// compiled, in token order; nil for draft 7 (Publish, Subscribe and
	// Payload then apply instead).
	Details []Detail
	// Issuer (iss), ClientID (client_id), TokenID (jti), Audience (aud)
	// and IssuedAt (iat) are the token's RFC 9068 claims, when present.
	Issuer   string
	ClientID string
	TokenID  string
	Audience []string
	IssuedAt time.Time
}

// Detail is one Mercure authorization detail of a draft-8 access token
// (RFC 9396 authorization_details entry of type [DetailType]), compiled.
type Detail struct {
	// Publish and Subscribe say which of the actions this hub knows the
	// detail grants; other actions grant nothing and are dropped.
	Publish, Subscribe bool
	// Topics are the detail's topic matchers (never empty).
	Topics []*topic.Matcher
	// Payload is the detail's payload object, nil when absent.
	Payload json.RawMessage
}

// matches reports whether one of the detail's matchers selects t.
func (d *Detail) matches(t string) bool {
	for _, m := range d.Topics {
		if m.Match(t) {
			return true
		}
	}
	return false
}

func (c *Claims) draft8() bool { return c.Draft == 8 }

// CanPublish reports whether the token may publish an update to topics:
// every one of them must be matched by at least one publish selector
// (draft-dunglas-mercure-07, "Publishing"), or for a draft-8 token by a
// matcher of a detail granting publish (draft-08 "Publishers"). It is false
// for no topics and for nil claims.
func (c *Claims) CanPublish(topics []string) bool {
	if c == nil {
		return false
	}
	if !c.draft8() {
		return topic.MatchEvery(c.Publish, topics)
	}
	if len(topics) == 0 {
		return false
	}
	for _, t := range topics {
		if !slices.ContainsFunc(c.Details, func(d Detail) bool { return d.Publish && d.matches(t) }) {
			return false
		}
	}
	return true
}

// CanReceive reports whether the token may receive a private update about
// topics: at least one of them must be matched by a subscribe selector. It is
// false for nil claims.
//
// For a draft-8 token, a matcher of a detail granting subscribe must select
// one of topics (draft-08 "Subscribers"); the same rule authorizes the
// subscriptions API, with the request's path as the one topic.
func (c *Claims) CanReceive(topics []string) bool {
	if c == nil {
		return false
	}
	if !c.draft8() {
		return topic.MatchAny(c.Subscribe, topics)
	}
	for _, d := range c.Details {
		if d.Subscribe && slices.ContainsFunc(topics, d.matches) {
			return true
		}
	}
	return false
}

// PayloadFor returns the payload the hub attaches to the subscription of
// matcher value match in the subscriptions API and subscription events.
// For draft 7 it is Payload, whatever the subscription. For draft 8 it is
// the payload of the first detail granting subscribe whose matchers select
// match read as a topic (draft-08 "Payloads"), nil when that detail has
// none or no detail matches.
func (c *Claims) PayloadFor(match string) json.RawMessage {
	if c == nil {
		return nil
	}
	if !c.draft8() {
		return c.Payload
	}
	for _, d := range c.Details {
		if d.Subscribe && d.matches(match) {
			return d.Payload
		}
	}
	return nil
}

// tokenClaims is the JSON shape of the claims set the Verifier decodes.
type tokenClaims struct {
	jwt.RegisteredClaims
	Mercure *mercureClaim `json:"mercure"`
}

// mercureClaim is the "mercure" claim. Slices stay nil when the key is
// absent or null, and are non-nil when it is [].
type mercureClaim struct {
	Publish   []string        `json:"publish"`
	Subscribe []string        `json:"subscribe"`
	Payload   json.RawMessage `json:"payload"`
}

// newClaims compiles the selectors of a verified token. Errors wrap
// herald.ErrUnauthorized: a token with an invalid selector is refused.
func newClaims(tc *tokenClaims, cache *topic.Cache) (*Claims, error) {
	c := &Claims{Subject: tc.Subject, Draft: 7}
	if tc.ExpiresAt != nil {
		c.ExpiresAt = tc.ExpiresAt.Time
	}
	if tc.NotBefore != nil {
		c.NotBefore = tc.NotBefore.Time
	}
	m := tc.Mercure
	if m == nil {
		return c, nil
	}
	var err error
	if c.Publish, err = compileAll(cache, "publish", m.Publish); err != nil {
		return nil, err
	}
	if c.Subscribe, err = compileAll(cache, "subscribe", m.Subscribe); err != nil {
		return nil, err
	}
	if len(m.Payload) > 0 && !bytes.Equal(m.Payload, []byte("null")) {
		c.Payload = m.Payload
	}
	return c, nil
}

func compileAll(cache *topic.Cache, name string, selectors []string) ([]*topic.Selector, error) {
	if selectors == nil {
		return nil, nil
	}
	out := make([]*topic.Selector, len(selectors))
	for i, s := range selectors {
		sel, err := cache.Compile(s)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), herald.ErrInvalid.Error()+": ")
			return nil, fmt.Errorf("%w: claim mercure.%s[%d]: %s", herald.ErrUnauthorized, name, i, msg)
		}
		out[i] = sel
	}
	return out, nil
}
