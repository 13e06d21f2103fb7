package clockcache

import (
	"fmt"
	"sync"
	"testing"
)

func TestClockCacheSecondChance(t *testing.T) {
	c := New[int](3)
	c.Add("a", 1)
	c.Add("b", 2)
	c.Add("c", 3)
	if v := c.Add("a", 100); v != 1 {
		t.Errorf("add of a cached key returned %d, want the cached 1", v)
	}
	c.Get("a") // a is used: the hand skips it once
	c.Add("d", 4)
	if _, ok := c.Get("b"); ok {
		t.Error("b (unused, oldest) survived, want it evicted")
	}
	for k, want := range map[string]int{"a": 1, "c": 3, "d": 4} {
		if v, ok := c.Get(k); !ok || v != want {
			t.Errorf("get(%q) = %d, %v; want %d, true", k, v, ok, want)
		}
	}
	if n := c.Len(); n != 3 {
		t.Errorf("Len() = %d, want 3", n)
	}
}

// TestConcurrentUseStaysBounded: many goroutines reading and adding never
// push the cache past its size, and a value added first wins.
func TestConcurrentUseStaysBounded(t *testing.T) {
	c := New[string](64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint(i % 200)
				if v := c.Add(k, fmt.Sprint(g)); v == "" {
					t.Error("Add returned an empty value")
				}
				c.Get(k)
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Fatalf("Len() = %d, want at most 64", n)
	}
	indexed := 0
	c.m.Range(func(any, any) bool { indexed++; return true })
	if indexed != c.Len() {
		t.Errorf("the index holds %d keys, the ring %d", indexed, c.Len())
	}
}
