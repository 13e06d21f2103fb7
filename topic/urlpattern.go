package topic

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dunglas/go-urlpattern"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/clockcache"
	whatwgurl "github.com/nlnwa/whatwg-url/url"
)

// Limits on a URL Pattern keep the cost of compiling and matching one bounded.
// The library compiles each of a pattern's eight components to a Go regular
// expression (RE2: matching is linear in the topic's length, so no pattern
// can backtrack catastrophically, as draft-dunglas-mercure-08 §"URL Pattern"
// requires); these limits bound the size of those expressions.
const (
	// MaxURLPatternLength is the longest URL Pattern accepted, in bytes.
	// Compiling costs about 0.1 ms for a typical pattern and a few ms for
	// one of 1 KiB with many segments (BenchmarkURLPattern), so a hub
	// should also cache compiled patterns ([MatcherCache]).
	MaxURLPatternLength = 1024
	// MaxURLPatternGroups is the most groups (":name", "*" wildcards and
	// "(regexp)" groups) a URL Pattern may hold over all its components.
	// The components a pattern string leaves out (username, password,
	// search and hash, usually) are "*" and do not count.
	MaxURLPatternGroups = 16
)

// URLPattern is a compiled WHATWG URL Pattern (https://urlpattern.spec.whatwg.org/),
// the urlpattern matcher type of draft-dunglas-mercure-08. It is immutable
// (its match cache is an internal detail) and safe for concurrent use.
//
// A pattern is matched against a topic the way the URL Pattern standard's
// test() does: the topic is parsed as a URL (a relative topic against the
// pattern's base URL) and each component is matched, case-sensitively
// except for the host, which URL parsing lowercases. A topic that is not a
// URL, even relative to the base, matches nothing. The pattern "*" is the
// reserved wildcard of draft-08 and matches every topic, URL or not.
type URLPattern struct {
	raw     string
	base    string
	all     bool
	pattern *urlpattern.URLPattern
	prefix  string
	suffix  string
	exact   bool
	matches *clockcache.Cache[bool] // topic -> matched
}

// CompileURLPattern compiles pattern, a URL Pattern string such as
// "https://example.com/books/:id" or "/.well-known/mercure/subscriptions/*".
//
// An absolute pattern (one that names its protocol) is compiled on its own.
// A relative pattern is resolved against base, which draft-08 says is the
// hub's URL (for example "https://hub.example.com/.well-known/mercure"); base
// is also what relative topics are resolved against in [URLPattern.Match].
// base may be empty when no relative pattern or topic is expected: a
// relative pattern is then refused.
//
// The error wraps [herald.ErrInvalid] and says what is wrong: an empty
// pattern, one longer than [MaxURLPatternLength], not UTF-8 or holding a
// control or Unicode format (Cf) character, one the URL Pattern standard
// rejects, or one with more than [MaxURLPatternGroups] groups. The pattern
// "*" always compiles and matches everything.
func CompileURLPattern(pattern, base string) (*URLPattern, error) {
	if err := validateMatcherValue(pattern); err != nil {
		return nil, fmt.Errorf("URL pattern %s: %w", quote(pattern), err)
	}
	if len(pattern) > MaxURLPatternLength {
		return nil, fmt.Errorf("%w: URL pattern is %d bytes long, the limit is %d", herald.ErrInvalid, len(pattern), MaxURLPatternLength)
	}
	if pattern == All {
		return &URLPattern{raw: pattern, base: base, all: true}, nil
	}
	p, err := newURLPattern(pattern, base)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid URL pattern: %s", herald.ErrInvalid, quote(pattern), err)
	}
	groups := 0
	for _, c := range []string{p.Protocol(), p.Username(), p.Password(), p.Hostname(), p.Port(), p.Pathname(), p.Search(), p.Hash()} {
		if c != "*" {
			groups += countGroups(c)
		}
	}
	if groups > MaxURLPatternGroups {
		return nil, fmt.Errorf("%w: URL pattern %s has %d groups, the limit is %d", herald.ErrInvalid, quote(pattern), groups, MaxURLPatternGroups)
	}
	u := &URLPattern{raw: pattern, base: base, pattern: p, matches: clockcache.New[bool](MatchCacheSize)}
	u.prefix, u.exact = literalPrefix(p)
	if !u.exact {
		u.suffix = literalSuffix(p.Pathname())
	}
	return u, nil
}

// newURLPattern compiles pattern with the library, on its own when it is
// absolute: a base URL would fill in the components it leaves out and, for
// a pattern with a non-special scheme such as "urn:*", replace its path with
// one relative to the base's, so that it would match nothing.
func newURLPattern(pattern, base string) (p *urlpattern.URLPattern, err error) {
	defer func() {
		if r := recover(); r != nil { // a library bug must not take the hub down
			p, err = nil, fmt.Errorf("the URL Pattern parser failed: %v", r)
		}
	}()
	p, err = urlpattern.New(pattern, "", nil)
	if errors.Is(err, urlpattern.ErrNoBaseURL) {
		if base == "" {
			return nil, errors.New("it is relative and no base URL is set")
		}
		p, err = urlpattern.New(pattern, base, nil)
	}
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "type error: "))
	}
	return p, nil
}

// countGroups counts the groups of one component's pattern string: named
// groups (":id"), wildcards ("*") and regular-expression groups ("(...)").
// Escaped characters ("\:") are literal; a regexp group counts once however
// deeply it nests.
func countGroups(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ':', '*':
			n++
		case '(':
			n++
			for depth := 1; depth > 0 && i+1 < len(s); {
				i++
				switch s[i] {
				case '\\':
					i++
				case '(':
					depth++
				case ')':
					depth--
				}
			}
		}
	}
	return n
}

// patternSyntax holds the characters that end a literal run in a component's
// pattern string: the library escapes them with '\' when they are literal.
const patternSyntax = `:*(){}\?+`

func isLiteral(s string) bool { return !strings.ContainsAny(s, patternSyntax) }

// literalPrefix returns what the canonical form ([CanonicalURL]) of every
// topic p matches starts with, and whether it is that whole form.
func literalPrefix(p *urlpattern.URLPattern) (prefix string, exact bool) {
	proto := p.Protocol()
	if proto == "" || !isLiteral(proto) {
		return "", false
	}
	prefix = proto + ":"
	if isSpecialScheme(proto) {
		host, port := p.Hostname(), p.Port()
		if !isLiteral(host) || !isLiteral(port) {
			return prefix, false
		}
		prefix += "//" + host
		if port != "" {
			prefix += ":" + port
		}
	}
	path := p.Pathname()
	i := strings.IndexAny(path, patternSyntax)
	if i < 0 {
		return prefix + path, true
	}
	// The character before a group may be its prefix ("/books/:id?"
	// matches "/books"): leave it out.
	return prefix + strings.TrimSuffix(path[:i], "/"), false
}

// literalSuffix returns what the path of every URL matched by a pattern
// whose pathname component is path ends with: the literal text after its
// last group (all of it when it has none). Any suffix of that text would
// do, so wherever the syntax is unclear it returns less, or "".
func literalSuffix(path string) string {
	j := strings.LastIndexAny(path, patternSyntax)
	if j < 0 {
		return path
	}
	if path[j] == '\\' {
		return "" // an escaped character: rare, not worth parsing
	}
	rest := path[j+1:]
	if path[j] == ':' {
		// A named group: its name runs on (letters, digits, _ and $, and
		// any non-ASCII character, which is more than names may hold).
		rest = strings.TrimLeftFunc(rest, func(r rune) bool {
			return r >= 0x80 || r == '_' || r == '$' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		})
	}
	return rest
}

func isSpecialScheme(s string) bool {
	switch s {
	case "http", "https", "ws", "wss", "ftp", "file":
		return true
	}
	return false
}

// Match reports whether the pattern matches topic, a topic string parsed as
// a URL against the pattern's base. It is false for a topic that is not a
// URL; "*" matches every topic. Results are cached per pattern (at most
// [MatchCacheSize] topics).
func (p *URLPattern) Match(topic string) bool {
	if p.all {
		return true
	}
	if m, ok := p.matches.Get(topic); ok {
		return m
	}
	return p.matches.Add(topic, p.test(topic))
}

func (p *URLPattern) test(topic string) (ok bool) {
	defer func() {
		if recover() != nil { // a library bug matches nothing rather than crash
			ok = false
		}
	}()
	base := p.base
	if !needsBase(topic) {
		base = "" // spares parsing the base again: half the cost
	}
	return p.pattern.Test(topic, base)
}

// NeedsBase reports whether parsing topic as a URL may take something from a
// base URL, so that its canonical form ([CanonicalURL]) depends on the base:
// false for a URL with a scheme and an authority ("https://...") or of a
// non-special scheme ("urn:..."), true for a relative reference ("/books/1").
func NeedsBase(topic string) bool { return needsBase(topic) }

// needsBase reports whether the WHATWG URL parser may use a base URL to
// parse topic: false only when topic starts with a scheme followed by "//"
// (or backslashes, which special schemes read as slashes), or with a
// non-special scheme (http, https, ws, wss, ftp and file are special), whose
// URLs never take anything from a base.
func needsBase(topic string) bool {
	i := 0
	for ; i < len(topic); i++ {
		c := topic[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			continue
		}
		break
	}
	if i == 0 || i >= len(topic) || topic[i] != ':' {
		return true
	}
	if !isSpecialScheme(strings.ToLower(topic[:i])) {
		return false
	}
	rest := topic[i+1:]
	return len(rest) < 2 || (rest[0] != '/' && rest[0] != '\\') || (rest[1] != '/' && rest[1] != '\\')
}

// String returns the pattern as it was given to CompileURLPattern.
func (p *URLPattern) String() string { return p.raw }

// Base returns the base URL relative patterns and topics are resolved against.
func (p *URLPattern) Base() string { return p.base }

// IsAll reports whether the pattern is the wildcard "*".
func (p *URLPattern) IsAll() bool { return p.all }

// Prefix returns a string that the canonical form ([CanonicalURL], with the
// same base) of every topic the pattern matches starts with: the pattern's
// literal protocol, host, port and the literal beginning of its path. A hub
// can skip the pattern for a topic whose canonical form does not start with
// it, or find the candidate patterns of a topic in a prefix index. It is ""
// when the pattern's protocol is not literal, and for "*".
func (p *URLPattern) Prefix() string { return p.prefix }

// Suffix returns a string that the canonical form ([CanonicalURL]) of every
// topic the pattern matches ends with, after [URLPattern.Prefix] (the two
// never overlap): the literal end of its path, after its last group. A hub
// can skip the pattern for a topic whose canonical form does not end with
// it. It is "" when the path ends with a group, and when the pattern is
// Exact.
func (p *URLPattern) Suffix() string { return p.suffix }

// Exact reports whether [URLPattern.Prefix] is the whole canonical form of
// every topic the pattern matches (protocol, host, port and path are
// literal; the query and fragment may still be patterns): a hub can then
// index the pattern in a map keyed by Prefix and look topics up by their
// canonical form, then confirm with Match.
func (p *URLPattern) Exact() bool { return p.exact }

// CanonicalURL returns the canonical form of topic as a URL relative to base,
// for indexing URL patterns (see [URLPattern.Prefix]): its scheme, ":", for a
// special scheme (http, https, ws, wss, ftp, file) "//" and the host and
// non-default port, then the path, all as the WHATWG URL parser normalizes
// them; userinfo, query and fragment are left out. ok is false when topic is
// not a URL, and then no URL pattern matches it.
func CanonicalURL(topic, base string) (canonical string, ok bool) {
	u, ok := parseTopicURL(topic, base)
	if !ok {
		return "", false
	}
	s := u.Scheme() + ":"
	if u.IsSpecialScheme() {
		s += "//" + u.Hostname()
		if u.Port() != "" {
			s += ":" + u.Port()
		}
	}
	return s + u.Pathname(), true
}

// URLPath returns the path of topic parsed as a URL relative to base, as the
// WHATWG URL parser leaves it (dot segments removed; percent-encoded
// characters kept encoded), and false when topic is not a URL. It is what a
// hub compares with its own path to find topics in its reserved namespace
// (draft-dunglas-mercure-08, "Publication"), whatever their scheme or host.
func URLPath(topic, base string) (path string, ok bool) {
	u, ok := parseTopicURL(topic, base)
	if !ok {
		return "", false
	}
	return u.Pathname(), true
}

// parseTopicURL parses topic with the WHATWG URL parser, relative to base
// when it needs one; ok is false when either is not a URL (the parser's
// panics included).
func parseTopicURL(topic, base string) (u *whatwgurl.Url, ok bool) {
	defer func() {
		if recover() != nil {
			u, ok = nil, false
		}
	}()
	var b *whatwgurl.Url
	if base != "" && needsBase(topic) {
		var err error
		if b, err = urlParser.Parse(base); err != nil {
			return nil, false
		}
	}
	u, err := urlParser.BasicParser(topic, b, nil, whatwgurl.NoState)
	if err != nil {
		return nil, false
	}
	return u, true
}

var urlParser = whatwgurl.NewParser()
