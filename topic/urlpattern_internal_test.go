package topic

import (
	"testing"

	whatwgurl "github.com/nlnwa/whatwg-url/url"
)

// FuzzNeedsBase checks the shortcut URLPattern.Match takes: when needsBase
// says a topic does not need the base URL, parsing it with and without the
// base gives the same URL.
func FuzzNeedsBase(f *testing.F) {
	for _, s := range []string{"https://example.com/a", "https:/a", "https:a", "HTTPS:\\\\x/y", "urn:x", "file:///x", "file:x", "/a", "a:b", "1a:b", "ws:/\\x", " https://x"} {
		f.Add(s)
	}
	base, err := urlParser.Parse("https://hub.example.com/.well-known/mercure")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if needsBase(topic) {
			return
		}
		without, err1 := urlParser.BasicParser(topic, nil, nil, whatwgurl.NoState)
		with, err2 := urlParser.BasicParser(topic, base, nil, whatwgurl.NoState)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: parse error without base %v, with base %v", topic, err1, err2)
		}
		if err1 == nil && without.Href(false) != with.Href(false) {
			t.Fatalf("%q: %q without base, %q with base", topic, without.Href(false), with.Href(false))
		}
	})
}
