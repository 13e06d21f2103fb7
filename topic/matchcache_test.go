package topic

import (
	"fmt"
	"testing"
)

func TestMatchCacheBounded(t *testing.T) {
	sel := MustCompile("https://example.com/books/{id}")
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
