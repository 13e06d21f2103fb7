package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
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
}

// CanPublish reports whether the token may publish an update to topics:
// every one of them must be matched by at least one publish selector
// (draft-dunglas-mercure-07, "Publishing"). It is false for no topics and
// for nil claims.
func (c *Claims) CanPublish(topics []string) bool {
	if c == nil {
		return false
	}
	return topic.MatchEvery(c.Publish, topics)
}

// CanReceive reports whether the token may receive a private update about
// topics: at least one of them must be matched by a subscribe selector. It is
// false for nil claims.
func (c *Claims) CanReceive(topics []string) bool {
	if c == nil {
		return false
	}
	return topic.MatchAny(c.Subscribe, topics)
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
	c := &Claims{Subject: tc.Subject}
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
