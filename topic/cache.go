package topic

import "github.com/herald-sse/herald/internal/clockcache"

// DefaultCacheSize is the number of compiled selectors a [Cache] holds when
// [NewCache] is given a size of zero or less.
const DefaultCacheSize = 10_000

// Cache holds compiled selectors keyed by their string, so that compiling a
// selector the hub has seen before costs one map lookup, and so that the same
// string yields the same *[Selector] (and so shares its match cache of
// [MatchCacheSize] results) for as long as it stays cached. It suits
// selectors that recur, such as those of tokens' claims. It is safe for concurrent use: lookups take no lock.
//
// The cache holds at most its size in selectors and evicts with CLOCK
// (second chance): a selector used since the clock hand last passed survives.
// An evicted selector stays valid for whoever holds it; compiling the same
// string again yields a new *Selector. Invalid selectors are not cached.
type Cache struct {
	selectors *clockcache.Cache[*Selector]
}

// NewCache returns an empty cache of at most size compiled selectors, or
// [DefaultCacheSize] when size is zero or less.
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{selectors: clockcache.New[*Selector](size)}
}

// Compile returns the compiled selector for s, from the cache when it is
// there, and otherwise compiles it with [Compile] and caches the result.
func (c *Cache) Compile(s string) (*Selector, error) {
	if sel, ok := c.selectors.Get(s); ok {
		return sel, nil
	}
	sel, err := Compile(s)
	if err != nil {
		return nil, err
	}
	switch sel.kind {
	case kindAll:
		return sel, nil
	case kindTemplate:
		sel.matches = clockcache.New[bool](MatchCacheSize)
	}
	return c.selectors.Add(s, sel), nil
}

// Len returns the number of selectors the cache holds now.
func (c *Cache) Len() int { return c.selectors.Len() }
