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
	if n := sel.matches.len(); n != MatchCacheSize {
		t.Errorf("match cache holds %d results, want %d (full, bounded)", n, MatchCacheSize)
	}
	n := 0
	sel.matches.m.Range(func(any, any) bool { n++; return true })
	if n != MatchCacheSize {
		t.Errorf("match cache index holds %d keys, want %d", n, MatchCacheSize)
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

func TestClockCacheSecondChance(t *testing.T) {
	c := newClockCache[int](3)
	c.add("a", 1)
	c.add("b", 2)
	c.add("c", 3)
	if v := c.add("a", 100); v != 1 {
		t.Errorf("add of a cached key returned %d, want the cached 1", v)
	}
	c.get("a") // a is used: the hand skips it once
	c.add("d", 4)
	if _, ok := c.get("b"); ok {
		t.Error("b (unused, oldest) survived, want it evicted")
	}
	for k, want := range map[string]int{"a": 1, "c": 3, "d": 4} {
		if v, ok := c.get(k); !ok || v != want {
			t.Errorf("get(%q) = %d, %v; want %d, true", k, v, ok, want)
		}
	}
	if n := c.len(); n != 3 {
		t.Errorf("len() = %d, want 3", n)
	}
}
