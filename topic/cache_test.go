package topic_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

func TestCacheReturnsSameSelector(t *testing.T) {
	c := topic.NewCache(0)
	for _, s := range []string{"https://example.com/books/{id}", "https://example.com/books/1", "*"} {
		a, err := c.Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("Compile(%q) twice returned two selectors, want the cached one", s)
		}
		if a.String() != s {
			t.Errorf("Compile(%q).String() = %q", s, a.String())
		}
	}
}

func TestCacheRejectsInvalid(t *testing.T) {
	c := topic.NewCache(4)
	for range 2 {
		if _, err := c.Compile("x{"); !errors.Is(err, herald.ErrInvalid) {
			t.Fatalf(`Compile("x{") error = %v, want herald.ErrInvalid`, err)
		}
	}
	if n := c.Len(); n != 0 {
		t.Errorf("Len() = %d after invalid selectors, want 0", n)
	}
}

func TestCacheBounded(t *testing.T) {
	const size = 16
	c := topic.NewCache(size)
	hot, err := c.Compile("https://example.com/hot/{id}")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if _, err := c.Compile(fmt.Sprintf("https://example.com/cold/%d/{id}", i)); err != nil {
			t.Fatal(err)
		}
		if n := c.Len(); n > size {
			t.Fatalf("Len() = %d after %d selectors, want at most %d", n, i+2, size)
		}
		// A selector used between every insertion keeps its second chance.
		again, err := c.Compile("https://example.com/hot/{id}")
		if err != nil {
			t.Fatal(err)
		}
		if again != hot {
			t.Fatalf("hot selector evicted after %d insertions", i+1)
		}
	}
	if n := c.Len(); n != size {
		t.Errorf("Len() = %d, want %d (full)", n, size)
	}
	// Cold selectors were evicted: compiling the first one again makes a new
	// selector that still works.
	first := "https://example.com/cold/0/{id}"
	sel, err := c.Compile(first)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Match("https://example.com/cold/0/7") {
		t.Errorf("%q does not match after re-compilation", first)
	}
}

// TestCacheConcurrent compiles and matches from many goroutines through a
// cache much smaller than the working set, so lookups, insertions and
// evictions race; run it with -race. Every answer is checked against a
// selector compiled outside the cache.
func TestCacheConcurrent(t *testing.T) {
	c := topic.NewCache(8)
	selectors := make([]string, 32)
	want := make([]*topic.Selector, len(selectors))
	for i := range selectors {
		switch i % 4 {
		case 0:
			selectors[i] = fmt.Sprintf("https://example.com/%d/{id}", i)
		case 1:
			selectors[i] = fmt.Sprintf("https://example.com/%d{/path*}", i)
		case 2:
			selectors[i] = fmt.Sprintf("https://example.com/%d/1", i)
		default:
			selectors[i] = "*"
		}
		want[i] = topic.MustCompile(selectors[i])
	}
	topics := make([]string, 64)
	for i := range topics {
		topics[i] = fmt.Sprintf("https://example.com/%d/%d", i%len(selectors), i%3)
		if i%5 == 0 {
			topics[i] += "/x/y"
		}
	}
	// Expected answers, computed before any concurrency by selectors that
	// share no cache with c: each is a fresh regexp run.
	expected := make([][]bool, len(selectors))
	for k := range selectors {
		expected[k] = make([]bool, len(topics))
		for j, tp := range topics {
			expected[k][j] = want[k].Match(tp)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := (i*7 + g*13) % len(selectors)
				sel, err := c.Compile(selectors[k])
				if err != nil {
					errs <- err
					return
				}
				j := (i*11 + g) % len(topics)
				tp := topics[j]
				if got, exp := sel.Match(tp), expected[k][j]; got != exp {
					errs <- fmt.Errorf("%q.Match(%q) = %v, want %v", selectors[k], tp, got, exp)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := c.Len(); n > 8 {
		t.Errorf("Len() = %d, want at most 8", n)
	}
}
