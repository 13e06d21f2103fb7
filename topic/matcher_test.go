package topic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

func TestCompileMatcher(t *testing.T) {
	tests := []struct {
		typ, value, topic string
		want              bool
	}{
		// exact is byte equality, even for strings that look like
		// templates or patterns.
		{topic.MatchExact, "https://example.com/books/{id}", "https://example.com/books/{id}", true},
		{topic.MatchExact, "https://example.com/books/{id}", "https://example.com/books/1", false},
		{topic.MatchExact, "https://example.com/books/:id", "https://example.com/books/1", false},
		{topic.MatchExact, "https://example.com/a", "https://EXAMPLE.com/a", false},
		{topic.MatchExact, "chat room", "chat room", true},
		{topic.MatchURLPattern, "https://example.com/books/:id", "https://example.com/books/1", true},
		// "*" is the wildcard whatever the type.
		{topic.MatchExact, "*", "anything", true},
		{topic.MatchURLPattern, "*", "anything", true},
	}
	for _, tt := range tests {
		m, err := topic.CompileMatcher(tt.typ, tt.value, hubURL)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(tt.topic); got != tt.want {
			t.Errorf("CompileMatcher(%q, %q).Match(%q) = %v, want %v", tt.typ, tt.value, tt.topic, got, tt.want)
		}
		if m.Type() != tt.typ || m.String() != tt.value || m.IsAll() != (tt.value == "*") {
			t.Errorf("%q %q: Type, String, IsAll = %q, %q, %v", tt.typ, tt.value, m.Type(), m.String(), m.IsAll())
		}
		lit, ok := m.Literal()
		if wantOK := tt.typ == topic.MatchExact && tt.value != "*"; ok != wantOK || ok && lit != tt.value {
			t.Errorf("%q %q: Literal = %q, %v", tt.typ, tt.value, lit, ok)
		}
		if (m.URLPattern() != nil) != (tt.typ == topic.MatchURLPattern) {
			t.Errorf("%q %q: URLPattern() = %v", tt.typ, tt.value, m.URLPattern())
		}
	}

	for _, tt := range []struct{ typ, value, want string }{
		{"Exact", "a", `unsupported matcher type "Exact"`},
		{"uritemplate", "a", "unsupported matcher type"},
		{"", "a", "unsupported matcher type"},
		{topic.MatchExact, "", "must not be empty"},
		{topic.MatchExact, "a\u202eb", "format character U+202E"},
		{topic.MatchExact, "a\x7fb", "control character U+007F"},
		{topic.MatchExact, strings.Repeat("a", herald.MaxTopicLength+1), "the limit is 2048"},
		{topic.MatchURLPattern, "https://example.com/(", "not a valid URL pattern"},
	} {
		_, err := topic.CompileMatcher(tt.typ, tt.value, hubURL)
		if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileMatcher(%q, %.30q) error = %v, want herald.ErrInvalid containing %q", tt.typ, tt.value, err, tt.want)
		}
	}
}

func TestMatcherCache(t *testing.T) {
	c := topic.NewMatcherCache(10)
	a, err := c.Compile(topic.MatchURLPattern, "/books/:id", hubURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Compile(topic.MatchURLPattern, "/books/:id", hubURL)
	other, _ := c.Compile(topic.MatchURLPattern, "/books/:id", "https://other.example.com/.well-known/mercure")
	exact, _ := c.Compile(topic.MatchExact, "/books/:id", hubURL)
	if a != b {
		t.Error("the same matcher compiled twice gives two *Matcher")
	}
	if a == other || a == exact {
		t.Error("matchers of another base or type share one *Matcher")
	}
	if !a.Match("https://hub.example.com/books/1") || other.Match("https://hub.example.com/books/1") {
		t.Error("a relative pattern does not resolve against its own base")
	}
	if _, err := c.Compile(topic.MatchURLPattern, "(", hubURL); err == nil {
		t.Error("invalid pattern compiled")
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3 (invalid matchers are not cached)", c.Len())
	}
}
