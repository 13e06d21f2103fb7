package topic

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/clockcache"
	"github.com/yosida95/uritemplate/v3"
)

// All is the selector string that matches every topic.
const All = "*"

// Limits on a template selector keep the cost of one uncached match bounded
// (a regexp run is linear in the topic's length times the size of the
// template's program). Real selectors use a handful of expressions. Within
// these limits an uncached match of a typical selector costs about a
// microsecond; the worst case (ten adjacent expressions such as
// "{+a,b}{+a,b}...", against a topic of herald.MaxTopicLength bytes) costs a
// few milliseconds, which the per-selector match cache pays once per topic.
const (
	// MaxTemplateExpressions is the most expressions ("{...}") a template
	// selector may hold.
	MaxTemplateExpressions = 10
	// MaxTemplateVariables is the most variables a template selector may
	// hold, over all its expressions.
	MaxTemplateVariables = 20
)

// MatchCacheSize is how many match results each template selector compiled
// by a [Cache] keeps (keyed by topic). Past that, the least recently useful
// results are evicted (CLOCK), so a selector's memory stays bounded however
// many topics it sees: about 150 bytes per entry plus the topic's length
// (measured), so about 50 KB per template selector for 50-byte topics.
// Selectors compiled by [Compile] cache nothing.
const MatchCacheSize = 256

type kind uint8

const (
	kindExact kind = iota
	kindAll
	kindTemplate
	kindURLPattern
)

// Selector is a compiled topic selector: a draft-07 selector ([Compile]), or
// a draft-08 matcher ([Matcher.Selector]), so that a hub selects the topics
// of subscribers of both generations the same way. It is immutable (its
// match cache is an internal detail) and safe for concurrent use.
type Selector struct {
	raw       string
	kind      kind
	matchType string                  // "" for a draft-07 selector, else the matcher's type
	pattern   *URLPattern             // kindURLPattern only
	re        *regexp.Regexp          // template only
	matches   *clockcache.Cache[bool] // template compiled by a Cache only: topic -> matched
	// prefix and suffix are the literal text of a template before its first
	// expression and after its last one: every topic it matches starts and
	// ends with them. literals are the literal texts between its
	// expressions: every topic it matches holds them, in order, between its
	// prefix and suffix. Checking them costs far less than the regular
	// expression, and rules out most topics a template cannot match.
	prefix, suffix string
	literals       []string
}

var all = &Selector{raw: All, kind: kindAll}

// Compile parses s as a topic selector (see the package documentation for the
// rules). The error, which wraps [herald.ErrInvalid], says what is wrong: an
// empty selector, one longer than [herald.MaxTopicLength] (it could only match
// topics that cannot be published), one that is not UTF-8 or holds a control
// character, or one with '{' that is not a valid RFC 6570 URI template or
// exceeds [MaxTemplateExpressions] or [MaxTemplateVariables].
//
// The selector caches nothing: matching a template runs its regular
// expression each time, and the selector holds no memory beyond its own. Use
// a [Cache] to reuse compiled selectors and cache their match results.
func Compile(s string) (*Selector, error) {
	if s == All {
		return all, nil
	}
	if err := herald.ValidateTopic(s); err != nil {
		return nil, fmt.Errorf("topic selector %s: %w", quote(s), err)
	}
	if strings.IndexByte(s, '{') < 0 {
		return &Selector{raw: s, kind: kindExact}, nil
	}
	re, err := templateRegexp(s)
	if err != nil {
		return nil, fmt.Errorf("%w: topic selector %s is not a valid URI template (RFC 6570): %s", herald.ErrInvalid, quote(s), err)
	}
	sel := &Selector{raw: s, kind: kindTemplate, re: re,
		prefix: s[:strings.IndexByte(s, '{')], suffix: s[strings.LastIndexByte(s, '}')+1:]}
	// The template parsed: '{' and '}' alternate.
	for rest := s[len(sel.prefix) : len(s)-len(sel.suffix)]; rest != ""; {
		_, after, _ := strings.Cut(rest, "}")
		lit, next, _ := strings.Cut(after, "{")
		if lit != "" {
			sel.literals = append(sel.literals, lit)
		}
		rest = next
	}
	return sel, nil
}

// templateRegexp parses s as a URI template and returns the regular
// expression of the strings it can expand to.
func templateRegexp(s string) (re *regexp.Regexp, err error) {
	tpl, err := uritemplate.New(s)
	if err != nil {
		return nil, templateError(err)
	}
	// The template parsed, so '{' opens each expression and ',' inside
	// one separates its variables.
	exprs, vars := 0, 0
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '{':
			exprs++
			vars++
			in = true
		case s[i] == '}':
			in = false
		case s[i] == ',' && in:
			vars++
		}
	}
	if exprs > MaxTemplateExpressions {
		return nil, fmt.Errorf("%d expressions, the limit is %d", exprs, MaxTemplateExpressions)
	}
	if vars > MaxTemplateVariables {
		return nil, fmt.Errorf("%d variables, the limit is %d", vars, MaxTemplateVariables)
	}
	// Template.Regexp uses regexp.MustCompile, which panics on a regexp
	// too large (over 1000 variables in one expression, for one). The
	// limits above rule that out; keep the guard anyway.
	defer func() {
		if recover() != nil {
			re, err = nil, errors.New("template is too complex to match")
		}
	}()
	return tpl.Regexp(), nil
}

// templateError rewrites the parser's error ("<reason>: <input up to the
// error><marker>") as "<reason> at byte <offset>".
func templateError(err error) error {
	msg := err.Error()
	reason, rest, ok := strings.Cut(msg, ": ")
	if !ok || rest == "" {
		return err
	}
	return fmt.Errorf("%s at byte %d", reason, len(rest)-1)
}

// quote quotes s for an error message, shortened to its first 100 bytes.
func quote(s string) string {
	const max = 100
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:max]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// MustCompile is like [Compile] but panics if s is not a valid selector. It
// is meant for selectors fixed in source code.
func MustCompile(s string) *Selector {
	sel, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// Match reports whether the selector selects topic: always for "*", when
// topic is byte-equal to the selector, and for a template selector when the
// template can expand to topic. Results for template selectors compiled by a
// [Cache] are cached. A matcher's Selector matches as the [Matcher] does.
func (s *Selector) Match(topic string) bool {
	switch {
	case s.kind == kindAll:
		return true
	case s.kind == kindURLPattern:
		return s.pattern.Match(topic)
	case topic == s.raw:
		return true
	case s.kind == kindExact:
		return false
	case !s.mayMatch(topic):
		return false
	case s.matches == nil:
		return s.re.MatchString(topic)
	}
	if m, ok := s.matches.Get(topic); ok {
		return m
	}
	return s.matches.Add(topic, s.re.MatchString(topic))
}

// mayMatch reports whether topic holds a template's literal text where its
// expansions do: prefix, literals in order, suffix, without overlapping. A
// topic that does not cannot match; one that does needs the regular
// expression.
func (s *Selector) mayMatch(topic string) bool {
	if len(topic) < len(s.prefix)+len(s.suffix) || !strings.HasPrefix(topic, s.prefix) || !strings.HasSuffix(topic, s.suffix) {
		return false
	}
	rest := topic[len(s.prefix) : len(topic)-len(s.suffix)]
	for _, lit := range s.literals {
		i := strings.Index(rest, lit)
		if i < 0 {
			return false
		}
		rest = rest[i+len(lit):]
	}
	return true
}

// Affixes returns, for a template selector, the literal text before its first
// expression and after its last one: every topic it matches other than
// itself starts with prefix and ends with suffix, which lets a hub index
// templates and try only those whose affixes a topic has. It returns "", ""
// for other selectors.
func (s *Selector) Affixes() (prefix, suffix string) {
	return s.prefix, s.suffix
}

// String returns the selector as it was given to Compile, or the matcher's
// value.
func (s *Selector) String() string { return s.raw }

// MatchType returns the type of the draft-08 matcher the selector stands for
// ([MatchExact] or [MatchURLPattern]), and "" for a draft-07 selector.
func (s *Selector) MatchType() string { return s.matchType }

// URLPattern returns the compiled pattern of a URL-pattern matcher other
// than "*" (its [URLPattern.Prefix] and [URLPattern.Base] index it), and
// nil for every other selector.
func (s *Selector) URLPattern() *URLPattern { return s.pattern }

// KeyOf returns the Key of the draft-07 selector s, as Compile(s).Key()
// would for a valid s, without compiling it.
func KeyOf(s string) string {
	switch {
	case s == All:
		return All
	case strings.IndexByte(s, '{') >= 0:
		return "{" + s
	}
	return "=" + s
}

// Key identifies what the selector selects, across both generations: two
// selectors with the same key select the same topics ("*" of either
// generation; an exact draft-07 selector and an exact matcher of the same
// topic), and a draft-07 template, an exact matcher of the same text and a
// URL pattern (whose base is part of its key) never share one. A hub can
// group subscribers by it.
func (s *Selector) Key() string {
	switch s.kind {
	case kindAll:
		return All
	case kindExact:
		return "=" + s.raw
	case kindTemplate:
		return "{" + s.raw
	}
	return "u" + s.pattern.base + "\x00" + s.raw
}

// IsAll reports whether the selector is "*", which matches every topic.
func (s *Selector) IsAll() bool { return s.kind == kindAll }

// IsTemplate reports whether the selector is a draft-07 URI template, so
// that matching it costs more than a string comparison. (A URL pattern
// costs more too: see URLPattern.)
func (s *Selector) IsTemplate() bool { return s.kind == kindTemplate }

// Literal returns the one topic the selector matches, and true, when the
// selector is exact (a draft-07 selector without template expression, or an
// exact matcher, other than "*"). A hub can index such selectors in a map
// keyed by topic.
func (s *Selector) Literal() (string, bool) {
	return s.raw, s.kind == kindExact
}

// MatchAny reports whether at least one of selectors matches at least one of
// topics. Nil selectors match nothing. It is the rule for delivering a
// private update: one of its topics must be selected.
func MatchAny(selectors []*Selector, topics []string) bool {
	for _, sel := range selectors {
		if sel == nil {
			continue
		}
		if sel.kind == kindAll && len(topics) > 0 {
			return true
		}
		for _, t := range topics {
			if sel.Match(t) {
				return true
			}
		}
	}
	return false
}

// MatchEvery reports whether each of topics is matched by at least one of
// selectors, and topics is not empty. It is the rule for publishing: every
// topic of an update must be allowed.
func MatchEvery(selectors []*Selector, topics []string) bool {
	if len(topics) == 0 {
		return false
	}
	for _, t := range topics {
		matched := false
		for _, sel := range selectors {
			if sel != nil && sel.Match(t) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}
