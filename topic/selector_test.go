package topic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		selector string
		match    []string
		noMatch  []string
	}{
		{
			selector: "*",
			match:    []string{"https://example.com/books/1", "a", "/foo/bar", "urn:x:y", "with space"},
		},
		{
			selector: "https://example.com/books/1",
			match:    []string{"https://example.com/books/1"},
			noMatch:  []string{"https://example.com/books/2", "https://example.com/books/1/", "https://example.com/books/", "HTTPS://example.com/books/1"},
		},
		{
			selector: "https://example.com/books/{id}",
			match: []string{
				"https://example.com/books/1",
				"https://example.com/books/foo-bar_baz.~",
				"https://example.com/books/%C3%A9t%C3%A9",
				"https://example.com/books/",     // an expression may expand to nothing (undefined variable)
				"https://example.com/books/{id}", // byte-equal to the selector
			},
			noMatch: []string{
				"https://example.com/books/1/reviews", // simple expansion escapes '/'
				"https://example.com/books/a?b",       // and '?'
				"https://example.com/authors/1",
				"http://example.com/books/1",
				"https://example.com/books",
				"https://example.com/books/été", // not percent-encoded
			},
		},
		{
			selector: "{+path}",
			match:    []string{"/a/b/c", "https://example.com/x?y=1#z", "", "{+path}"},
			noMatch:  []string{"with space", "a<b"},
		},
		{
			selector: "/foo/{bar}/baz",
			match:    []string{"/foo/x/baz", "/foo/1,2/baz", "/foo//baz"},
			noMatch:  []string{"/foo/x/y/baz", "/foo/x/baz/", "/foo/x/bar", "foo/x/baz"},
		},
		{
			selector: "/search{?q,lang}",
			match:    []string{"/search", "/search?q=go", "/search?q=go&lang=fr"},
			noMatch:  []string{"/search?q=go&x=1&y=2&z=3", "/searchq=go"},
		},
		{
			selector: "https://example.com{/path*}",
			match:    []string{"https://example.com", "https://example.com/a", "https://example.com/a/b/c"},
			noMatch:  []string{"https://example.org/a", "https://example.com/a b"},
		},
		{
			// No '{': exact, even where a URI template would be invalid.
			selector: "my topic with spaces}",
			match:    []string{"my topic with spaces}"},
			noMatch:  []string{"my topic with spaces"},
		},
	}
	for _, tt := range tests {
		sel, err := topic.Compile(tt.selector)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.selector, err)
		}
		if got := sel.String(); got != tt.selector {
			t.Errorf("Compile(%q).String() = %q", tt.selector, got)
		}
		// Twice each: the second answer comes from the match cache.
		for range 2 {
			for _, tp := range tt.match {
				if !sel.Match(tp) {
					t.Errorf("selector %q does not match %q, want a match", tt.selector, tp)
				}
			}
			for _, tp := range tt.noMatch {
				if sel.Match(tp) {
					t.Errorf("selector %q matches %q, want no match", tt.selector, tp)
				}
			}
		}
	}
}

func TestSelectorKinds(t *testing.T) {
	tests := []struct {
		selector   string
		all        bool
		template   bool
		literal    string
		hasLiteral bool
	}{
		{selector: "*", all: true},
		{selector: "https://example.com/books/1", literal: "https://example.com/books/1", hasLiteral: true},
		{selector: "a b}", literal: "a b}", hasLiteral: true},
		{selector: "**", literal: "**", hasLiteral: true},
		{selector: "https://example.com/books/{id}", template: true},
		{selector: "{+path}", template: true},
	}
	for _, tt := range tests {
		sel := topic.MustCompile(tt.selector)
		if got := sel.IsAll(); got != tt.all {
			t.Errorf("%q: IsAll() = %v, want %v", tt.selector, got, tt.all)
		}
		if got := sel.IsTemplate(); got != tt.template {
			t.Errorf("%q: IsTemplate() = %v, want %v", tt.selector, got, tt.template)
		}
		lit, ok := sel.Literal()
		if ok != tt.hasLiteral || (ok && lit != tt.literal) {
			t.Errorf("%q: Literal() = %q, %v; want %q, %v", tt.selector, lit, ok, tt.literal, tt.hasLiteral)
		}
	}
}

func TestCompileInvalid(t *testing.T) {
	tooManyVars := "{" + strings.Repeat("a,", 1010) + "a}"
	tests := []struct {
		selector string
		want     string // substring of the error message
	}{
		{"", "topic must not be empty"},
		{"x{", `topic selector "x{" is not a valid URI template (RFC 6570): incomplete expression at byte 2`},
		{"https://example.com/books/{id", "incomplete expression"},
		{"https://example.com/books/{}", "unacceptable variable name"},
		{"/books/{=id}", "unimplemented operator"},
		{"/books/{id}/a b", "unacceptable character"},
		{"/books/%zz/{id}", "incomplete pct-encode"},
		{"/books/{id:0}", "max-length"},
		{"/books/{id}\x01", "control character"},
		{"/books/\x7f", "control character"},
		{"bad\xffutf8", "not valid UTF-8"},
		{strings.Repeat("a", herald.MaxTopicLength+1), "bytes long"},
		{tooManyVars, "1011 variables, the limit is 20"},
		{strings.Repeat("{a}", topic.MaxTemplateExpressions+1), "11 expressions, the limit is 10"},
		{"{a,b,c,d,e,f,g,h,i,j}{k,l,m,n,o,p,q,r,s,t}{u}", "21 variables, the limit is 20"},
	}
	for _, tt := range tests {
		sel, err := topic.Compile(tt.selector)
		if err == nil {
			t.Errorf("Compile(%.40q) = %q, want an error", tt.selector, sel)
			continue
		}
		if !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("Compile(%.40q) error %v does not wrap herald.ErrInvalid", tt.selector, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%.40q) error = %q, want it to contain %q", tt.selector, err, tt.want)
		}
		if len(err.Error()) > 300 {
			t.Errorf("Compile(%.40q) error is %d bytes long, want the selector shortened", tt.selector, len(err.Error()))
		}
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile(\"x{\") did not panic")
		}
	}()
	topic.MustCompile("x{")
}

func TestMatchAnyEvery(t *testing.T) {
	books := topic.MustCompile("https://example.com/books/{id}")
	author := topic.MustCompile("https://example.com/authors/1")
	sels := []*topic.Selector{nil, books, author}

	tests := []struct {
		topics    []string
		any, each bool
	}{
		{nil, false, false},
		{[]string{"https://example.com/books/1"}, true, true},
		{[]string{"https://example.com/books/1", "https://example.com/authors/1"}, true, true},
		{[]string{"https://example.com/books/1", "https://example.com/authors/2"}, true, false},
		{[]string{"https://example.com/authors/2", "https://example.com/books/2"}, true, false},
		{[]string{"https://example.com/authors/2"}, false, false},
	}
	for _, tt := range tests {
		if got := topic.MatchAny(sels, tt.topics); got != tt.any {
			t.Errorf("MatchAny(%q) = %v, want %v", tt.topics, got, tt.any)
		}
		if got := topic.MatchEvery(sels, tt.topics); got != tt.each {
			t.Errorf("MatchEvery(%q) = %v, want %v", tt.topics, got, tt.each)
		}
	}

	star := []*topic.Selector{topic.MustCompile("*")}
	if !topic.MatchAny(star, []string{"x"}) || !topic.MatchEvery(star, []string{"x", "y"}) {
		t.Error(`"*" does not select every topic`)
	}
	if topic.MatchAny(star, nil) || topic.MatchEvery(star, nil) {
		t.Error(`"*" selects an empty topic list`)
	}
	if topic.MatchAny(nil, []string{"x"}) || topic.MatchEvery(nil, []string{"x"}) {
		t.Error("no selectors select a topic")
	}
}
