package topic_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

const hubURL = "https://hub.example.com/.well-known/mercure"

func mustURLPattern(t testing.TB, pattern, base string) *topic.URLPattern {
	t.Helper()
	p, err := topic.CompileURLPattern(pattern, base)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestURLPatternMatch(t *testing.T) {
	tests := []struct {
		pattern, base, topic string
		want                 bool
	}{
		// The draft-08 examples.
		{"https://example.com/books/:id", hubURL, "https://example.com/books/1", true},
		{"https://example.com/books/:id", hubURL, "https://example.com/books/1/2", false},
		{"https://example.com/books/:id", hubURL, "https://example.com/books/", false},
		{"https://example.com/books/:id", hubURL, "https://example.com/authors/1", false},
		{"https://example.com/users/42/*", hubURL, "https://example.com/users/42/books/1", true},
		{"https://example.com/users/42/*", hubURL, "https://example.com/users/43/books/1", false},
		{"https://example.com/feed/:type(news|alerts)", hubURL, "https://example.com/feed/news", true},
		{"https://example.com/feed/:type(news|alerts)", hubURL, "https://example.com/feed/sport", false},
		{"https://example.com/items{/:tail}?", hubURL, "https://example.com/items", true},
		{"https://example.com/items{/:tail}?", hubURL, "https://example.com/items/x", true},
		// The host is case-insensitive (URL parsing lowercases it), the
		// rest is not; the query, fragment, userinfo and a default port
		// are free unless the pattern names them.
		{"https://example.com/books/:id", hubURL, "HTTPS://EXAMPLE.com/books/1", true},
		{"https://example.com/books/:id", hubURL, "https://example.com/Books/1", false},
		{"https://example.com/books/:id", hubURL, "https://example.com/books/1?x=1#y", true},
		{"https://example.com/books/:id", hubURL, "https://example.com:443/books/1", true},
		{"https://example.com/books/:id", hubURL, "https://example.com:8443/books/1", false},
		{"https://example.com/books/:id?lang=fr", hubURL, "https://example.com/books/1?lang=en", false},
		// Relative patterns and topics resolve against the hub's URL:
		// subscription events.
		{"/.well-known/mercure/subscriptions/*", hubURL, "/.well-known/mercure/subscriptions/exact/a/b", true},
		{"/.well-known/mercure/subscriptions/*", hubURL, "https://hub.example.com/.well-known/mercure/subscriptions/x", true},
		{"/.well-known/mercure/subscriptions/*", hubURL, "https://other.example.com/.well-known/mercure/subscriptions/x", false},
		{"/.well-known/mercure/subscriptions/:type/:match/:subscriber", hubURL, "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa/urn%3Auuid%3A1", true},
		{"https://hub.example.com/.well-known/mercure/subscriptions/*", hubURL, "/.well-known/mercure/subscriptions/x", true},
		// An absolute pattern with a non-special scheme is not resolved
		// against the base (which would replace its path).
		{"urn:*", hubURL, "urn:uuid:e1ee88e2-532a-4d6f-ba70-f0f8bd584022", true},
		{"urn:*", hubURL, "https://example.com/", false},
		{"urn:*", "", "urn:x", true},
		// A topic that is not a URL matches no pattern but "*".
		{"https://example.com/*", hubURL, "chat room 1", false},
		{"https://example.com/*", "", "/relative", false},
		{"*", hubURL, "chat room 1", true},
		{"*", "", "", true},
	}
	for _, tt := range tests {
		p := mustURLPattern(t, tt.pattern, tt.base)
		for range 2 { // uncached, then cached
			if got := p.Match(tt.topic); got != tt.want {
				t.Errorf("CompileURLPattern(%q, %q).Match(%q) = %v, want %v", tt.pattern, tt.base, tt.topic, got, tt.want)
				break
			}
		}
	}
}

func TestCompileURLPatternErrors(t *testing.T) {
	tests := []struct {
		pattern, base, want string
	}{
		{"", hubURL, "must not be empty"},
		{"https://example.com/\x01", hubURL, "control character U+0001"},
		{"https://example.com/\u0085", hubURL, "control character U+0085"},
		{"https://example.com/a\u200bb", hubURL, "format character U+200B"},
		{"https://example.com/\xff", hubURL, "not valid UTF-8"},
		{"https://example.com/" + strings.Repeat("a", topic.MaxURLPatternLength), hubURL, "the limit is 1024"},
		{"https://example.com/(", hubURL, "is not a valid URL pattern"},
		{"https://example.com/:id/:id", hubURL, "is not a valid URL pattern"},
		{"/books/:id", "", "relative and no base URL is set"},
		{"https://example.com" + strings.Repeat("/:a", 1) + strings.Repeat("/*", topic.MaxURLPatternGroups), hubURL, "groups, the limit is 16"},
		{"https://*.example.com/" + strings.Repeat("(a|b)", topic.MaxURLPatternGroups), hubURL, "17 groups"},
	}
	for _, tt := range tests {
		_, err := topic.CompileURLPattern(tt.pattern, tt.base)
		if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileURLPattern(%.60q) error = %v, want herald.ErrInvalid containing %q", tt.pattern, err, tt.want)
		}
	}
	// Exactly the limit is fine.
	mustURLPattern(t, "https://example.com"+strings.Repeat("/*", topic.MaxURLPatternGroups), hubURL)
}

func TestURLPatternIndexKeys(t *testing.T) {
	tests := []struct {
		pattern, prefix string
		exact           bool
		suffix          string
	}{
		{"https://example.com/books/:id", "https://example.com/books", false, ""},
		{"https://example.com/books/1", "https://example.com/books/1", true, ""},
		{"https://example.com/books/1?x=1", "https://example.com/books/1", true, ""},
		{"https://EXAMPLE.com:443/a", "https://example.com/a", true, ""},
		{"https://example.com:8443/a/*", "https://example.com:8443/a", false, ""},
		{"/.well-known/mercure/subscriptions/*", "https://hub.example.com/.well-known/mercure/subscriptions", false, ""},
		{"https://*.example.com/a", "https:", false, "/a"},
		{"http{s}?://example.com/a", "", false, "/a"},
		{"urn:*", "urn:", false, ""},
		{"*", "", false, ""},
		{"https://example.com/books/:id/reviews", "https://example.com/books", false, "/reviews"},
		{"https://example.com/books/:id.json", "https://example.com/books", false, ".json"},
		{"https://example.com/books/:idéx/a", "https://example.com/books", false, "/a"},
		{"https://example.com/a/(\\d+)/café", "https://example.com/a", false, "/caf%C3%A9"},
		{"https://example.com/a/:id?", "https://example.com/a", false, ""},
	}
	for _, tt := range tests {
		p := mustURLPattern(t, tt.pattern, hubURL)
		if p.Prefix() != tt.prefix || p.Exact() != tt.exact || p.Suffix() != tt.suffix {
			t.Errorf("%q: Prefix, Exact, Suffix = %q, %v, %q; want %q, %v, %q", tt.pattern, p.Prefix(), p.Exact(), p.Suffix(), tt.prefix, tt.exact, tt.suffix)
		}
		if p.String() != tt.pattern || p.Base() != hubURL {
			t.Errorf("%q: String, Base = %q, %q", tt.pattern, p.String(), p.Base())
		}
	}
}

func TestCanonicalURL(t *testing.T) {
	tests := []struct {
		topic, want string
		ok          bool
	}{
		{"https://EXAMPLE.com:443/a/../b?q#f", "https://example.com/b", true},
		{"https://user:pw@example.com:8443/b", "https://example.com:8443/b", true},
		{"/.well-known/mercure/subscriptions/x", "https://hub.example.com/.well-known/mercure/subscriptions/x", true},
		{"urn:uuid:1", "urn:uuid:1", true},
		{"https://", "", false},
	}
	for _, tt := range tests {
		got, ok := topic.CanonicalURL(tt.topic, hubURL)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q, %v", tt.topic, got, ok, tt.want, tt.ok)
		}
	}
}

func TestURLPatternConcurrent(t *testing.T) {
	p := mustURLPattern(t, "https://example.com/books/:id", hubURL)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tp := "https://example.com/books/" + string(rune('a'+(g+i)%26))
				if !p.Match(tp) || p.Match(tp+"/x") {
					t.Errorf("wrong answer for %q", tp)
					return
				}
			}
		})
	}
	wg.Wait()
}
