package topic_test

import (
	"fmt"
	"testing"

	"github.com/herald-sse/herald/topic"
)

// TestMatcherSelector: a draft-08 matcher seen as a Selector (what a hub
// subscribes with) selects exactly what the matcher does, keeps its type,
// and has a Key that tells it apart from a draft-07 selector of the same
// text whenever the two select different topics.
func TestMatcherSelector(t *testing.T) {
	topics := []string{
		"https://example.com/books/{id}", "https://example.com/books/1", "https://example.com/books/:id",
		"/books/1", "https://hub.example.com/books/1", "urn:isbn:1", "anything", "*",
	}
	for _, tt := range []struct{ typ, value string }{
		{topic.MatchExact, "https://example.com/books/{id}"}, // byte-exact, not a template
		{topic.MatchExact, "https://example.com/books/1"},
		{topic.MatchExact, "*"},
		{topic.MatchURLPattern, "https://example.com/books/:id"},
		{topic.MatchURLPattern, "/books/:id"},
		{topic.MatchURLPattern, "urn\\:isbn\\:*"},
		{topic.MatchURLPattern, "*"},
	} {
		m, err := topic.CompileMatcher(tt.typ, tt.value, hubURL)
		if err != nil {
			t.Fatal(err)
		}
		sel := m.Selector()
		if sel != m.Selector() {
			t.Errorf("%s %q: Selector() returns a new *Selector each time, want one per matcher (one match cache)", tt.typ, tt.value)
		}
		for _, tp := range topics {
			if got, want := sel.Match(tp), m.Match(tp); got != want {
				t.Errorf("%s %q: Selector().Match(%q) = %v, the matcher says %v", tt.typ, tt.value, tp, got, want)
			}
		}
		if sel.String() != tt.value || sel.MatchType() != tt.typ || sel.IsAll() != m.IsAll() {
			t.Errorf("%s %q: String, MatchType, IsAll = %q, %q, %v", tt.typ, tt.value, sel.String(), sel.MatchType(), sel.IsAll())
		}
		lit, ok := sel.Literal()
		wantLit, wantOK := m.Literal()
		if lit != wantLit && wantOK || ok != wantOK {
			t.Errorf("%s %q: Selector().Literal() = %q, %v; the matcher's is %q, %v", tt.typ, tt.value, lit, ok, wantLit, wantOK)
		}
		if sel.IsTemplate() {
			t.Errorf("%s %q: IsTemplate() = true: a matcher is never a URI template", tt.typ, tt.value)
		}
		if (sel.URLPattern() != nil) != (tt.typ == topic.MatchURLPattern && tt.value != "*") {
			t.Errorf("%s %q: URLPattern() = %v", tt.typ, tt.value, sel.URLPattern())
		}
	}

	// Keys: equal when two selectors select the same topics by
	// construction, different otherwise.
	key := func(typ, value, base string) string {
		m, err := topic.CompileMatcher(typ, value, base)
		if err != nil {
			t.Fatal(err)
		}
		return m.Selector().Key()
	}
	template := topic.MustCompile("https://example.com/books/{id}").Key()
	if k := key(topic.MatchExact, "https://example.com/books/{id}", hubURL); k == template {
		t.Errorf("an exact matcher and a URI template of the same text share the key %q", k)
	}
	if a, b := key(topic.MatchExact, "/a", hubURL), topic.MustCompile("/a").Key(); a != b {
		t.Errorf("exact matcher key %q, exact selector key %q: both select only /a", a, b)
	}
	if a, b := key(topic.MatchExact, "/a", hubURL), key(topic.MatchExact, "/a", "https://other.example/.well-known/mercure"); a != b {
		t.Errorf("exact matchers of two bases have keys %q and %q: the base does not change what they select", a, b)
	}
	if a, b := key(topic.MatchURLPattern, "/a/:x", hubURL), key(topic.MatchURLPattern, "/a/:x", "https://other.example/.well-known/mercure"); a == b {
		t.Errorf("URL patterns of two bases share the key %q", a)
	}
	if a, b := key(topic.MatchURLPattern, "*", hubURL), topic.MustCompile("*").Key(); a != b {
		t.Errorf(`"*" matcher key %q, "*" selector key %q`, a, b)
	}
	if a, b := key(topic.MatchURLPattern, "https://example.com/a", hubURL), key(topic.MatchExact, "https://example.com/a", hubURL); a == b {
		t.Errorf("a URL pattern and an exact matcher share the key %q", a)
	}
}

// TestSelectorMatchesAcrossGenerations: MatchAny and MatchEvery take
// selectors of both generations.
func TestSelectorMatchesAcrossGenerations(t *testing.T) {
	m, err := topic.CompileMatcher(topic.MatchURLPattern, "https://example.com/books/:id", hubURL)
	if err != nil {
		t.Fatal(err)
	}
	sels := []*topic.Selector{topic.MustCompile("https://example.com/authors/{id}"), m.Selector()}
	if !topic.MatchEvery(sels, []string{"https://example.com/books/1", "https://example.com/authors/2"}) {
		t.Error("MatchEvery: a topic of each generation's selector is not matched")
	}
	if topic.MatchAny(sels, []string{"https://example.com/other/1"}) {
		t.Error("MatchAny matched a topic no selector selects")
	}
}

// TestMatcherCacheBoundedInBytes: URL patterns cost kilobytes each once
// compiled; the cache holds at most its byte budget of them, whatever its
// entry bound, however many bases the same pattern is compiled against.
func TestMatcherCacheBoundedInBytes(t *testing.T) {
	const budget = 64 << 10
	c := topic.NewMatcherCacheBytes(10_000, budget)
	for i := range 200 {
		base := fmt.Sprintf("https://h%d.example/.well-known/mercure", i)
		if _, err := c.Compile(topic.MatchURLPattern, "/books/:id", base); err != nil {
			t.Fatal(err)
		}
		if b := c.Bytes(); b > budget {
			t.Fatalf("after %d patterns the cache holds %d bytes, the budget is %d", i+1, b, budget)
		}
	}
	if n := c.Len(); n == 0 || n > budget/topic.URLPatternCost {
		t.Errorf("the cache holds %d URL patterns, want between 1 and %d", n, budget/topic.URLPatternCost)
	}
	// Exact matchers cost little: many fit.
	e := topic.NewMatcherCacheBytes(10_000, budget)
	for i := range 200 {
		if _, err := e.Compile(topic.MatchExact, fmt.Sprintf("/books/%d", i), hubURL); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.Len(); n != 200 {
		t.Errorf("the cache holds %d of 200 short exact matchers within %d bytes", n, budget)
	}
}
