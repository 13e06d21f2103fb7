package topic

import (
	"fmt"
	"testing"
)

func TestMatchCacheBounded(t *testing.T) {
	sel, err := NewCache(0).Compile("https://example.com/books/{id}")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * MatchCacheSize {
		tp := fmt.Sprintf("https://example.com/books/%d", i)
		if !sel.Match(tp) {
			t.Fatalf("no match for %q", tp)
		}
		if sel.Match(tp + "/x") {
			t.Fatalf("match for %q", tp+"/x")
		}
	}
	if n := sel.matches.Len(); n != MatchCacheSize {
		t.Errorf("match cache holds %d results, want %d (full, bounded)", n, MatchCacheSize)
	}
}

func TestExactSelectorsCacheNothing(t *testing.T) {
	if sel := MustCompile("https://example.com/books/1"); sel.matches != nil {
		t.Error("exact selector has a match cache")
	}
	if sel := MustCompile("*"); sel.matches != nil {
		t.Error(`"*" has a match cache`)
	}
}

// TestCompiledSelectorsCacheNothing: a selector from Compile holds no match
// results, so dropping it (when its subscribers leave) releases everything.
func TestCompiledSelectorsCacheNothing(t *testing.T) {
	sel := MustCompile("https://example.com/books/{id}")
	for i := range 100 {
		if !sel.Match(fmt.Sprintf("https://example.com/books/%d", i)) {
			t.Fatal("no match")
		}
	}
	if sel.matches != nil {
		t.Error("a selector from Compile has a match cache")
	}
}
