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

// TestWeightBudget: a weighted cache evicts, second chance first, until a
// new entry fits its budget, and never caches an entry heavier than it.
func TestWeightBudget(t *testing.T) {
	c := NewWeighted[int](100, 10)
	c.AddWeighted("a", 1, 4)
	c.AddWeighted("b", 2, 4)
	c.Get("a")
	c.AddWeighted("c", 3, 4) // 12 > 10: b (unused) goes, a keeps its second chance
	if _, ok := c.Get("b"); ok {
		t.Error("b survived, want it evicted to make room")
	}
	if w := c.Weight(); w != 8 {
		t.Errorf("Weight() = %d, want 8", w)
	}
	if v := c.AddWeighted("huge", 9, 11); v != 9 {
		t.Errorf("AddWeighted of an entry over the budget returned %d, want it back", v)
	}
	if _, ok := c.Get("huge"); ok {
		t.Error("an entry heavier than the budget was cached")
	}
	for i := range 1000 {
		c.AddWeighted(fmt.Sprint(i), i, int64(1+i%5))
		if w := c.Weight(); w > 10 {
			t.Fatalf("Weight() = %d after %d inserts, the budget is 10", w, i)
		}
	}
	indexed, sum := 0, int64(0)
	c.m.Range(func(_, v any) bool { indexed++; sum += v.(*entry[int]).weight; return true })
	if indexed != c.Len() || sum != c.Weight() {
		t.Errorf("the index holds %d keys weighing %d, the ring %d weighing %d", indexed, sum, c.Len(), c.Weight())
	}
}
