package topic_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/herald-sse/herald/topic"
)

// BenchmarkURLPattern measures what a URL pattern costs a hub: compiling one
// (once per distinct pattern a subscriber or token brings), matching a topic
// the pattern has seen (a cache hit), matching topics it has not (a URL parse
// and eight RE2 runs), and the canonical form a hub indexes topics by.
func BenchmarkURLPattern(b *testing.B) {
	const pattern = "https://example.com/books/:id"
	b.Run("compile", func(b *testing.B) {
		for b.Loop() {
			if _, err := topic.CompileURLPattern(pattern, hubURL); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compile/long", func(b *testing.B) {
		long := "https://example.com/" + strings.Repeat("a/", 500) + ":id"
		for b.Loop() {
			if _, err := topic.CompileURLPattern(long, hubURL); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("match/cached", func(b *testing.B) {
		p := mustURLPattern(b, pattern, hubURL)
		p.Match("https://example.com/books/42")
		for b.Loop() {
			p.Match("https://example.com/books/42")
		}
	})
	for _, tt := range []struct{ name, pattern, prefix string }{
		{"named", pattern, "https://example.com/books/"},
		{"regexp", "https://example.com/books/:id(\\d+)", "https://example.com/books/"},
		{"relative", "/.well-known/mercure/subscriptions/:type/:match/:subscriber", "/.well-known/mercure/subscriptions/exact/a/"},
	} {
		b.Run("match/uncached/"+tt.name, func(b *testing.B) {
			// Four times more distinct topics than the match cache
			// holds, visited in a cycle: every Match misses.
			p := mustURLPattern(b, tt.pattern, hubURL)
			topics := make([]string, 4*topic.MatchCacheSize)
			for i := range topics {
				topics[i] = fmt.Sprintf("%s%d", tt.prefix, i)
			}
			i := 0
			for b.Loop() {
				p.Match(topics[i])
				i = (i + 1) % len(topics)
			}
		})
	}
	b.Run("canonical", func(b *testing.B) {
		for b.Loop() {
			topic.CanonicalURL("https://example.com/books/42", hubURL)
		}
	})
}
