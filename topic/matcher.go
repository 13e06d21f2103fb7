package topic

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/clockcache"
)

// The topic matcher types of draft-dunglas-mercure-08 ("Matcher Types"): the
// names of the match_<type> subscribe query parameters and of the match_type
// member of a token's authorization details.
const (
	// MatchExact compares the topic byte for byte. It is the default type:
	// the bare "match" parameter, and a topic matcher without match_type.
	MatchExact = "exact"
	// MatchURLPattern matches the topic as a URL against a WHATWG URL
	// Pattern (see [URLPattern]).
	MatchURLPattern = "urlpattern"
)

// MatcherTypes lists the matcher types this package implements, for the
// mercure_matcher_types_supported member of protected resource metadata.
var MatcherTypes = []string{MatchExact, MatchURLPattern}

// Matcher is a compiled draft-08 topic matcher: a matcher type and the
// expression it interprets. The value "*" is the reserved wildcard whatever
// the type: it matches every topic. A Matcher is immutable and safe for
// concurrent use.
type Matcher struct {
	typ     string
	raw     string
	all     bool
	pattern *URLPattern // MatchURLPattern only
	sel     *Selector
}

// CompileMatcher compiles value as a matcher of type matchType ([MatchExact]
// or [MatchURLPattern], compared case-sensitively). base is the hub's URL,
// against which relative URL patterns and topics are resolved (see
// [CompileURLPattern]); exact matchers ignore it.
//
// The error wraps [herald.ErrInvalid] and says what is wrong: an unsupported
// type, an empty value, one longer than [herald.MaxTopicLength], not UTF-8,
// holding a C0 or C1 control character, DEL or a Unicode format (Cf)
// character (draft-08 forbids them in topics and matchers), or an invalid
// URL pattern.
func CompileMatcher(matchType, value, base string) (*Matcher, error) {
	switch matchType {
	case MatchExact:
		if err := validateMatcherValue(value); err != nil {
			return nil, fmt.Errorf("exact matcher %s: %w", quote(value), err)
		}
		m := &Matcher{typ: matchType, raw: value, all: value == All}
		m.sel = &Selector{raw: value, kind: kindExact, matchType: matchType}
		if m.all {
			m.sel.kind = kindAll
		}
		return m, nil
	case MatchURLPattern:
		p, err := CompileURLPattern(value, base)
		if err != nil {
			return nil, err
		}
		m := &Matcher{typ: matchType, raw: value, all: p.IsAll(), pattern: p}
		m.sel = &Selector{raw: value, kind: kindURLPattern, matchType: matchType, pattern: p}
		if m.all {
			m.sel.kind, m.sel.pattern = kindAll, nil
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: unsupported matcher type %s (supported: %s, %s)", herald.ErrInvalid, quote(matchType), MatchExact, MatchURLPattern)
}

// validateMatcherValue applies the character rules draft-08 sets for topics
// and matcher values.
func validateMatcherValue(s string) error {
	if s == "" {
		return fmt.Errorf("%w: must not be empty", herald.ErrInvalid)
	}
	if len(s) > herald.MaxTopicLength {
		return fmt.Errorf("%w: %d bytes long, the limit is %d", herald.ErrInvalid, len(s), herald.MaxTopicLength)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", herald.ErrInvalid)
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return fmt.Errorf("%w: contains control character %U", herald.ErrInvalid, r)
		}
		if unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("%w: contains Unicode format character %U", herald.ErrInvalid, r)
		}
	}
	return nil
}

// Match reports whether the matcher selects topic: always for "*", byte
// equality for an exact matcher, [URLPattern.Match] for a URL pattern.
func (m *Matcher) Match(topic string) bool {
	switch {
	case m.all:
		return true
	case m.pattern != nil:
		return m.pattern.Match(topic)
	}
	return topic == m.raw
}

// Type returns the matcher type: [MatchExact] or [MatchURLPattern].
func (m *Matcher) Type() string { return m.typ }

// String returns the matcher's value as it was given to CompileMatcher.
func (m *Matcher) String() string { return m.raw }

// IsAll reports whether the matcher is the wildcard "*".
func (m *Matcher) IsAll() bool { return m.all }

// Literal returns the one topic the matcher selects, and true, for an exact
// matcher other than "*": a hub can index it in a map keyed by topic.
func (m *Matcher) Literal() (string, bool) {
	return m.raw, m.typ == MatchExact && !m.all
}

// Selector returns the matcher as a [Selector], which matches as the matcher
// does, so that a hub subscribes with draft-07 selectors and draft-08
// matchers alike. It is the same *Selector every time.
func (m *Matcher) Selector() *Selector { return m.sel }

// URLPattern returns the compiled pattern of a [MatchURLPattern] matcher
// (for its [URLPattern.Prefix] and [URLPattern.Exact] index keys), and nil
// for an exact matcher.
func (m *Matcher) URLPattern() *URLPattern { return m.pattern }

// Memory bounds of a [MatcherCache].
const (
	// URLPatternCost is the memory one compiled URL pattern holds, without
	// its match results (measured: 7.7 to 8.3 KB for patterns of one to six
	// groups); a MatcherCache counts it, plus the length of the pattern and
	// its base, against its byte budget. Each pattern also keeps up to
	// [MatchCacheSize] match results, about 150 bytes plus the topic each,
	// like a template selector.
	URLPatternCost = 8 << 10
	// DefaultMatcherCacheBytes is the byte budget of a cache made by
	// [NewMatcherCache]: about 4,000 compiled URL patterns.
	DefaultMatcherCacheBytes = 32 << 20
)

// MatcherCache holds compiled matchers keyed by type, base and value, so that
// the same matcher compiled again (a subscriber reconnecting, many tokens
// granting the same pattern) costs one map lookup and shares its match
// cache. It evicts with CLOCK like [Cache] and is safe for concurrent use.
//
// It is bounded in entries and in bytes: a URL pattern counts
// [URLPatternCost] plus its length and base's, an exact matcher (which does
// not depend on the base, so it is cached once whatever the base) about
// 100 bytes plus its length. A pattern compiled against many bases (a hub
// deriving its URL from each request's origin) is one entry per base, within
// the same budget. An evicted matcher stays valid for whoever holds it.
type MatcherCache struct {
	matchers *clockcache.Cache[*Matcher]
}

// NewMatcherCache returns an empty cache of at most size matchers, or
// [DefaultCacheSize] when size is zero or less, and at most
// [DefaultMatcherCacheBytes].
func NewMatcherCache(size int) *MatcherCache {
	return NewMatcherCacheBytes(size, DefaultMatcherCacheBytes)
}

// NewMatcherCacheBytes returns an empty cache of at most size matchers
// ([DefaultCacheSize] when size is zero or less) and at most maxBytes
// ([DefaultMatcherCacheBytes] when zero or less).
func NewMatcherCacheBytes(size int, maxBytes int64) *MatcherCache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMatcherCacheBytes
	}
	return &MatcherCache{matchers: clockcache.NewWeighted[*Matcher](size, maxBytes)}
}

// Compile returns the compiled matcher for (matchType, value, base), from the
// cache when it is there, and otherwise compiles it with [CompileMatcher]
// and caches the result. Invalid matchers are not cached.
func (c *MatcherCache) Compile(matchType, value, base string) (*Matcher, error) {
	key := matchType + "\x00" + value
	if matchType != MatchExact {
		key += "\x00" + base
	}
	if m, ok := c.matchers.Get(key); ok {
		return m, nil
	}
	m, err := CompileMatcher(matchType, value, base)
	if err != nil {
		return nil, err
	}
	cost := int64(100 + len(key))
	if m.pattern != nil {
		cost += URLPatternCost
	}
	return c.matchers.AddWeighted(key, m, cost), nil
}

// Len returns the number of matchers the cache holds now.
func (c *MatcherCache) Len() int { return c.matchers.Len() }

// Bytes returns the memory the cache counts for the matchers it holds now.
func (c *MatcherCache) Bytes() int64 { return c.matchers.Weight() }
