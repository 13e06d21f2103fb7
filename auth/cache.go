package auth

import (
	"strings"
	"sync"
	"sync/atomic"
)

// tokenCache is a bounded map from token strings to verified claims with
// CLOCK (second-chance) eviction. Reads are lock-free (a sync.Map load and at
// most one atomic store); inserts take a mutex. It holds at most size
// entries. (The same structure backs topic.Cache; it is small enough that
// each package keeps its own copy rather than share an exported helper.)
type tokenCache struct {
	m    sync.Map // string -> *tokenEntry
	size int

	mu   sync.Mutex // guards ring and hand
	ring []*tokenEntry
	hand int
}

type tokenEntry struct {
	token  string
	claims *Claims
	ref    atomic.Bool // set on each hit, cleared as the clock hand passes
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{size: size, ring: make([]*tokenEntry, 0, min(size, 64))}
}

// get returns the claims cached for token and marks them recently used.
// Expired entries are returned too: the caller checks exp, and keeping them
// makes a replayed expired token cheap to refuse.
func (c *tokenCache) get(token string) (*Claims, bool) {
	v, ok := c.m.Load(token)
	if !ok {
		return nil, false
	}
	e := v.(*tokenEntry)
	if !e.ref.Load() { // avoid writing a shared cache line on every hit
		e.ref.Store(true)
	}
	return e.claims, true
}

// add caches claims under token unless token is already cached, and returns
// the cached claims.
func (c *tokenCache) add(token string, claims *Claims) *Claims {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m.Load(token); ok {
		return v.(*tokenEntry).claims
	}
	// Clone so that a token sliced from a header does not keep it alive.
	e := &tokenEntry{token: strings.Clone(token), claims: claims}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, e)
	} else {
		// One full turn clears every ref bit, so this ends within 2*size
		// steps; amortised, each insert moves the hand O(1).
		for {
			old := c.ring[c.hand]
			if old.ref.Load() {
				old.ref.Store(false)
				c.hand = (c.hand + 1) % len(c.ring)
				continue
			}
			c.m.Delete(old.token)
			c.ring[c.hand] = e
			c.hand = (c.hand + 1) % len(c.ring)
			break
		}
	}
	c.m.Store(e.token, e)
	return claims
}

// len returns the number of cached tokens.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}
