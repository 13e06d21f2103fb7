package topic_test

import (
	"fmt"
	"testing"

	"github.com/herald-sse/herald/topic"
)

func BenchmarkMatch(b *testing.B) {
	b.Run("exact", func(b *testing.B) {
		sel := topic.MustCompile("https://example.com/books/1")
		for b.Loop() {
			sel.Match("https://example.com/books/2")
		}
	})
	cached := func(s string) *topic.Selector {
		sel, err := topic.NewCache(0).Compile(s)
		if err != nil {
			b.Fatal(err)
		}
		return sel
	}
	b.Run("template", func(b *testing.B) {
		sel := topic.MustCompile("https://example.com/books/{id}")
		for b.Loop() {
			sel.Match("https://example.com/books/42")
		}
	})
	b.Run("template/other-prefix", func(b *testing.B) {
		sel := topic.MustCompile("https://example.com/books/{id}")
		for b.Loop() {
			sel.Match("https://example.com/authors/42")
		}
	})
	b.Run("template/cached", func(b *testing.B) {
		sel := cached("https://example.com/books/{id}")
		sel.Match("https://example.com/books/42")
		for b.Loop() {
			sel.Match("https://example.com/books/42")
		}
	})
	b.Run("template/cached-parallel", func(b *testing.B) {
		sel := cached("https://example.com/books/{id}")
		sel.Match("https://example.com/books/42")
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sel.Match("https://example.com/books/42")
			}
		})
	})
	b.Run("template/uncached", func(b *testing.B) {
		// Four times more distinct topics than the match cache holds,
		// visited in a cycle: every Match misses, runs the regexp and
		// evicts an entry.
		sel := cached("https://example.com/books/{id}")
		topics := make([]string, 4*topic.MatchCacheSize)
		for i := range topics {
			topics[i] = fmt.Sprintf("https://example.com/books/%d", i)
		}
		i := 0
		for b.Loop() {
			sel.Match(topics[i])
			i = (i + 1) % len(topics)
		}
	})
}

func BenchmarkCacheCompile(b *testing.B) {
	// A hit costs the same whatever the number of cached selectors.
	for _, n := range []int{10, 100_000} {
		b.Run(fmt.Sprintf("hit/%d-cached", n), func(b *testing.B) {
			c := topic.NewCache(n)
			for i := range n {
				if _, err := c.Compile(fmt.Sprintf("https://example.com/%d/{id}", i)); err != nil {
					b.Fatal(err)
				}
			}
			s := fmt.Sprintf("https://example.com/%d/{id}", n/2)
			for b.Loop() {
				if _, err := c.Compile(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("miss/template", func(b *testing.B) {
		for b.Loop() {
			if _, err := topic.Compile("https://example.com/books/{id}"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
