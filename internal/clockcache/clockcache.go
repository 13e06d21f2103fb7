// Package clockcache is a bounded, concurrent map from strings to values with
// CLOCK (second-chance) eviction, shared by the caches of compiled topic
// selectors, template match results and verified tokens.
package clockcache

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Cache is a bounded map from strings to values with CLOCK (second-chance)
// eviction. Reads are lock-free (a sync.Map load and at most one atomic
// store); inserts take a mutex. It holds at most size entries. It is safe for
// concurrent use.
type Cache[V any] struct {
	m    sync.Map // string -> *entry[V]
	size int

	mu   sync.Mutex // guards ring and hand
	ring []*entry[V]
	hand int
}

type entry[V any] struct {
	key string
	val V
	ref atomic.Bool // set on each hit, cleared as the clock hand passes
}

// New returns a Cache of at most size entries (at least 1).
func New[V any](size int) *Cache[V] {
	if size < 1 {
		size = 1
	}
	return &Cache[V]{size: size, ring: make([]*entry[V], 0, min(size, 64))}
}

// Get returns the value cached for key and marks it recently used.
func (c *Cache[V]) Get(key string) (V, bool) {
	v, ok := c.m.Load(key)
	if !ok {
		var zero V
		return zero, false
	}
	e := v.(*entry[V])
	if !e.ref.Load() { // avoid writing a shared cache line on every hit
		e.ref.Store(true)
	}
	return e.val, true
}

// Add caches val under key unless key is already cached, and returns the
// cached value: val, or the value another goroutine added first. When the
// cache is full it evicts the first entry the clock hand finds unused since
// its last pass.
func (c *Cache[V]) Add(key string, val V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m.Load(key); ok {
		return v.(*entry[V]).val
	}
	// Clone so that a key sliced from a larger string (a header, a form
	// body) does not keep that string alive.
	e := &entry[V]{key: strings.Clone(key), val: val}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, e)
	} else {
		// At most one full turn clears every ref bit, so this loop ends
		// within 2*size steps; amortised, each insert moves the hand O(1).
		for {
			old := c.ring[c.hand]
			if old.ref.Load() {
				old.ref.Store(false)
				c.hand = (c.hand + 1) % len(c.ring)
				continue
			}
			c.m.Delete(old.key)
			c.ring[c.hand] = e
			c.hand = (c.hand + 1) % len(c.ring)
			break
		}
	}
	c.m.Store(e.key, e)
	return val
}

// Len returns the number of cached entries.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}
