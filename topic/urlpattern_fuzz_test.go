package topic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// FuzzURLPattern compiles arbitrary URL patterns, with and without a base,
// and matches them against an arbitrary topic: no panic, errors wrap
// herald.ErrInvalid, the cached answer equals the first one, the exact and
// urlpattern Matchers agree with their definitions, and the index keys hold:
// a matched topic's canonical form starts with Prefix (equals it when Exact)
// and ends with Suffix, without overlap.
func FuzzURLPattern(f *testing.F) {
	for _, s := range []string{
		"https://example.com/books/:id", "/.well-known/mercure/subscriptions/*", "urn:*", "*",
		"https://example.com/feed/:type(news|alerts)", "https://example.com/items{/:tail}?",
		"https://*.example.com/:a+/:b*", "http{s}?://example.com/(.*)", "https://[::1]:8080/x",
		"https://example.com/caf\u00e9/:x?lang=:l#:h", "data\\:*", "((a)", ":a:a", "{", "\\",
		"https://example.com/books/:id/reviews", "/books/:id.json", "http{s}?://example.com/a/:x/b", "/a/*/caf\u00e9",
		"https://example.com/:x\\.json", "/books/:id?/x", "/:n\u00e9x/y", "/a/(\\d+)z", "urn\\:isbn\\::n/x",
	} {
		f.Add(s, "https://example.com/books/1", true)
		f.Add(s, "/.well-known/mercure/subscriptions/exact/a/b", false)
		f.Add(s, "https://example.com/books/1/reviews", true)
		f.Add(s, "/books/1.json", true)
	}
	f.Fuzz(func(t *testing.T, pattern, tp string, withBase bool) {
		base := ""
		if withBase {
			base = hubURL
		}
		p, err := topic.CompileURLPattern(pattern, base)
		if err != nil {
			if !errors.Is(err, herald.ErrInvalid) {
				t.Fatalf("CompileURLPattern(%q) error %v does not wrap herald.ErrInvalid", pattern, err)
			}
			return
		}
		first := p.Match(tp)
		if p.Match(tp) != first {
			t.Fatalf("%q: cached Match(%q) differs from the first answer", pattern, tp)
		}
		if p.IsAll() && !first {
			t.Fatalf("* does not match %q", tp)
		}
		if first && !p.IsAll() {
			canon, ok := topic.CanonicalURL(tp, base)
			if !ok {
				t.Fatalf("%q matches %q, which CanonicalURL says is not a URL", pattern, tp)
			}
			if !strings.HasPrefix(canon, p.Prefix()) {
				t.Fatalf("%q matches %q, whose canonical form %q does not start with Prefix %q", pattern, tp, canon, p.Prefix())
			}
			if !strings.HasSuffix(canon, p.Suffix()) || len(canon) < len(p.Prefix())+len(p.Suffix()) {
				t.Fatalf("%q matches %q, whose canonical form %q does not end with Suffix %q after Prefix %q", pattern, tp, canon, p.Suffix(), p.Prefix())
			}
			if p.Exact() && canon != p.Prefix() {
				t.Fatalf("exact %q matches %q, whose canonical form %q is not Prefix %q", pattern, tp, canon, p.Prefix())
			}
		}
		m, err := topic.CompileMatcher(topic.MatchURLPattern, pattern, base)
		if err != nil || m.Match(tp) != first {
			t.Fatalf("Matcher(urlpattern, %q): %v, Match(%q) differs from the URLPattern's", pattern, err, tp)
		}
		if e, err := topic.CompileMatcher(topic.MatchExact, pattern, base); err != nil || e.Match(tp) != (tp == pattern || pattern == "*") {
			t.Fatalf("Matcher(exact, %q): %v, or Match(%q) is not byte equality", pattern, err, tp)
		}
	})
}
