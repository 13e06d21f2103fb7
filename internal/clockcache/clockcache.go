// Package clockcache is a bounded, concurrent map from strings to values with
// CLOCK (second-chance) eviction, shared by the caches of compiled topic
// selectors and matchers, template match results and verified tokens.
package clockcache

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Cache is a bounded map from strings to values with CLOCK (second-chance)
// eviction. Reads are lock-free (a sync.Map load and at most one atomic
// store); inserts take a mutex. It holds at most size entries and, when it
// was made with [NewWeighted], at most its weight budget. It is safe for
// concurrent use.
type Cache[V any] struct {
	m    sync.Map // string -> *entry[V]
	size int

	mu        sync.Mutex // guards ring, hand and weight
	ring      []*entry[V]
	hand      int
	weight    int64 // sum of the entries' weights
	maxWeight int64 // 0: no weight budget
}

type entry[V any] struct {
	key    string
	val    V
	weight int64
	ref    atomic.Bool // set on each hit, cleared as the clock hand passes
}

// New returns a Cache of at most size entries (at least 1).
func New[V any](size int) *Cache[V] {
	if size < 1 {
		size = 1
	}
	return &Cache[V]{size: size, ring: make([]*entry[V], 0, min(size, 64))}
}

// NewWeighted returns a Cache of at most size entries (at least 1) whose
// weights, given to AddWeighted, add up to at most maxWeight (at least 1).
func NewWeighted[V any](size int, maxWeight int64) *Cache[V] {
	c := New[V](size)
	c.maxWeight = max(maxWeight, 1)
	return c
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

// Add caches val under key, with a weight of 1, as AddWeighted does.
func (c *Cache[V]) Add(key string, val V) V { return c.AddWeighted(key, val, 1) }

// AddWeighted caches val under key unless key is already cached, and returns
// the cached value: val, or the value another goroutine added first. When
// the cache is full, or adding weight would exceed the weight budget of a
// cache made with NewWeighted, it first evicts the entries the clock hand
// finds unused since its last pass, as many as it takes. An entry heavier
// than the whole budget is returned but not cached.
func (c *Cache[V]) AddWeighted(key string, val V, weight int64) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m.Load(key); ok {
		return v.(*entry[V]).val
	}
	if c.maxWeight > 0 && weight > c.maxWeight {
		return val
	}
	// Clone so that a key sliced from a larger string (a header, a form
	// body) does not keep that string alive.
	e := &entry[V]{key: strings.Clone(key), val: val, weight: weight}
	for c.maxWeight > 0 && c.weight+weight > c.maxWeight {
		i := c.victim()
		c.ring = slices.Delete(c.ring, i, i+1)
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
	}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, e)
	} else {
		i := c.victim()
		c.ring[i] = e
		c.hand = (i + 1) % len(c.ring)
	}
	c.weight += weight
	c.m.Store(e.key, e)
	return val
}

// victim moves the hand to the first entry unused since its last pass,
// forgets that entry and returns its index in ring, which the caller
// reuses or removes. At most one full turn clears every ref bit, so it
// ends within 2*len(ring) steps; amortised, each eviction moves the hand
// O(1). The ring must not be empty.
func (c *Cache[V]) victim() int {
	for {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		old := c.ring[c.hand]
		if old.ref.Load() {
			old.ref.Store(false)
			c.hand++
			continue
		}
		c.m.Delete(old.key)
		c.weight -= old.weight
		return c.hand
	}
}

// Len returns the number of cached entries.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}

// Weight returns the sum of the cached entries' weights.
func (c *Cache[V]) Weight() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.weight
}
