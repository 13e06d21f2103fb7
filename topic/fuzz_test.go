package topic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// FuzzCompile compiles arbitrary selectors and matches them against an
// arbitrary topic: no panic, errors wrap herald.ErrInvalid, a selector
// always matches its own text, an exact selector matches nothing else, and
// the cached answer equals the first one, a template's affixes never rule
// out a topic its regular expression matches, and a selector from a Cache
// matches as one from Compile.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"*", "https://example.com/books/{id}", "{+path}", "/foo/{bar}/baz", "x{", "{a,b,c}", "/s{?q,lang}", "{/p*}", "a b", "%zz{x}"} {
		f.Add(s, "https://example.com/books/1")
	}
	f.Add("/books/{a}-1-{b}", "/books/x-1-y")
	f.Add("{a}x{b}y{c}", "1x2y3")
	f.Add("{a}x{b}y{c}", "1y2x3")
	f.Add("/a{x}a", "/a")
	f.Fuzz(func(t *testing.T, s, tp string) {
		sel, err := topic.Compile(s)
		if err != nil {
			if !errors.Is(err, herald.ErrInvalid) {
				t.Fatalf("Compile(%q) error %v does not wrap herald.ErrInvalid", s, err)
			}
			return
		}
		if !sel.Match(s) {
			t.Fatalf("selector %q does not match itself", s)
		}
		first := sel.Match(tp)
		if lit, ok := sel.Literal(); ok && first != (tp == lit) {
			t.Fatalf("exact selector %q: Match(%q) = %v", s, tp, first)
		}
		if sel.Match(tp) != first {
			t.Fatalf("selector %q: cached Match(%q) differs from the first answer", s, tp)
		}
		if sel.IsTemplate() {
			prefix, suffix := sel.Affixes()
			re := topic.TemplateRegexp(sel)
			if re.MatchString(tp) && tp != s && !(strings.HasPrefix(tp, prefix) && strings.HasSuffix(tp, suffix)) {
				t.Fatalf("template %q matches %q, which lacks its affixes %q and %q", s, tp, prefix, suffix)
			}
			// The shortcuts (affixes, literals) never change the answer.
			if want := tp == s || re.MatchString(tp); first != want {
				t.Fatalf("template %q: Match(%q) = %v, its regular expression says %v", s, tp, first, want)
			}
		}
		cached, err := topic.NewCache(0).Compile(s)
		if err != nil {
			t.Fatalf("Cache.Compile(%q): %v", s, err)
		}
		for range 2 {
			if cached.Match(tp) != first {
				t.Fatalf("selector %q from a Cache: Match(%q) = %v, want %v", s, tp, !first, first)
			}
		}
	})
}
