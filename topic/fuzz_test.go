package topic_test

import (
	"errors"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// FuzzCompile compiles arbitrary selectors and matches them against an
// arbitrary topic: no panic, errors wrap herald.ErrInvalid, a selector
// always matches its own text, an exact selector matches nothing else, and
// the cached answer equals the first one.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"*", "https://example.com/books/{id}", "{+path}", "/foo/{bar}/baz", "x{", "{a,b,c}", "/s{?q,lang}", "{/p*}", "a b", "%zz{x}"} {
		f.Add(s, "https://example.com/books/1")
	}
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
	})
}
