package hub

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/herald-sse/herald/topic"
)

// indexSubs returns, sorted by id, the subscribers index.each passes for
// topics, without duplicates.
func indexSubs(x *index, topics []string) []string {
	seen := map[*subscriber]bool{}
	x.mu.RLock()
	x.each(topics, func(s *subscriber) { seen[s] = true })
	x.mu.RUnlock()
	var ids []string
	for s := range seen {
		ids = append(ids, s.id)
	}
	slices.Sort(ids)
	return ids
}

// bruteSubs returns, sorted by id, the subscribers of subs that select one
// of topics, by trying every selector.
func bruteSubs(subs []*subscriber, topics []string) []string {
	var ids []string
	for _, s := range subs {
		if s.wants(topics, false) {
			ids = append(ids, s.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestIndexMatchesEverySelector: whatever selectors (draft-07 exact,
// templates and "*"; draft-08 exact matchers and URL patterns compiled
// against several base URLs) are subscribed to and unsubscribed from, in any
// order, the index finds exactly the subscribers that trying every selector
// finds, for topics that match, nearly match or share affixes with the
// templates, and for URLs whose canonical form (case of the host, default
// port, dot segments, percent-encoding, relative references) differs from
// their text; cached answers stay right as selectors come and go.
func TestIndexMatchesEverySelector(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"/", "a", "b", "ab", "/books", "/books/", "x", ".json", "%20", "é", ""}
	exprs := []string{"{id}", "{+path}", "{/p}", "{?q}", "{.ext}", "{#f}", "{a,b}", "{x}"}
	piece := func() string { return pieces[rng.IntN(len(pieces))] }
	randTemplate := func() string {
		s := piece()
		for range 1 + rng.IntN(3) {
			s += exprs[rng.IntN(len(exprs))] + piece()
		}
		return s
	}
	// URLs: the same resource spelled many ways, and others.
	origins := []string{"https://example.com", "https://EXAMPLE.com", "https://example.com:443", "http://example.com",
		"https://example.com:8443", "https://h1.example", "//example.com", "", "urn:isbn:", "HTTPS://example.com"}
	paths := []string{"/books/1", "/books/2", "/a/../books/1", "/books/./1", "/%62ooks/1", "/books", "/books/1/reviews",
		"books/1", "/.well-known/mercure/subscriptions/exact/x/y", "/.well-known/%6Dercure/subscriptions/a", "/authors/7", "?q=1", "#f", "1"}
	randURL := func() string {
		u := origins[rng.IntN(len(origins))] + paths[rng.IntN(len(paths))]
		if rng.IntN(5) == 0 {
			u += "?page=" + fmt.Sprint(rng.IntN(3))
		}
		if u == "" {
			u = "/"
		}
		return u
	}
	randTopic := func() string {
		if rng.IntN(2) == 0 {
			return randURL()
		}
		s := ""
		for range rng.IntN(6) {
			s += piece()
			if rng.IntN(3) == 0 {
				s += fmt.Sprint(rng.IntN(3))
			}
		}
		if s == "" {
			s = "/"
		}
		return s
	}
	bases := []string{"https://example.com/.well-known/mercure", "https://h1.example/.well-known/mercure", "http://example.com/hub/"}
	patterns := []string{"https://example.com/books/:id", "https://example.com/books/*", "https://example.com/books/:id?",
		"https://example.com:443/books/:id", "http{s}?://example.com/books/:id", "https://*.example/books/*", "https://example.com/:section/1",
		"/books/:id", "/books/*", "books/:id", "/.well-known/mercure/subscriptions/*", "/b%6Foks/:id", "/books/:id/reviews",
		"https://example.com/books/1", "https://EXAMPLE.com/books/1", "/books/1", "urn\\:isbn\\:*", "https://example.com/books/1?page=:p",
		"https://h1.example/*", "*", "https://example.com/authors/:id(\\d+)"}
	matchers := topic.NewMatcherCache(0) // as a hub compiles them
	matcher := func() *topic.Selector {
		base := bases[rng.IntN(len(bases))]
		if rng.IntN(4) == 0 {
			value := randTopic()
			if rng.IntN(2) == 0 {
				value = randTemplate() // byte-exact, unlike the template of the same text
			}
			m, err := matchers.Compile(topic.MatchExact, value, base)
			if err != nil {
				return nil
			}
			return m.Selector()
		}
		m, err := matchers.Compile(topic.MatchURLPattern, patterns[rng.IntN(len(patterns))], base)
		if err != nil {
			t.Fatal(err)
		}
		return m.Selector()
	}
	x := newIndex()
	var live []*subscriber
	n, templateHits, patternHits, canonicalHits := 0, 0, 0, 0
	for step := range 600 {
		switch {
		case len(live) < 5 || len(live) < 150 && rng.IntN(3) > 0 || rng.IntN(2) > 0:
			var sels []*topic.Selector
			for range 1 + rng.IntN(3) {
				raw := randTemplate()
				switch rng.IntN(8) {
				case 0:
					raw = randTopic() // exact
				case 1:
					raw = topic.All
				case 2, 3:
					if sel := matcher(); sel != nil {
						sels = append(sels, sel)
					}
					continue
				}
				if sel, err := topic.Compile(raw); err == nil {
					sels = append(sels, sel)
				}
			}
			if len(sels) == 0 {
				continue
			}
			n++
			s := &subscriber{id: fmt.Sprintf("s%05d", n), selectors: sels}
			x.add(s)
			live = append(live, s)
		default:
			i := rng.IntN(len(live))
			x.remove(live[i])
			live = slices.Delete(live, i, i+1)
		}
		for range 5 {
			topics := []string{randTopic()}
			if rng.IntN(4) == 0 {
				topics = append(topics, randTopic())
			}
			// Also the raw text of a selector, which matches itself.
			if len(live) > 0 && rng.IntN(4) == 0 {
				s := live[rng.IntN(len(live))]
				topics = append(topics, s.selectors[0].String())
			}
			got, want := indexSubs(x, topics), bruteSubs(live, topics)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d, topics %q: index found %v, want %v", step, topics, got, want)
			}
			byID := make(map[string]*subscriber, len(live))
			for _, s := range live {
				byID[s.id] = s
			}
			for _, id := range want {
				if s := byID[id]; s != nil {
					for _, sel := range s.selectors {
						switch {
						case !matchAny(sel, topics[:1]):
						case sel.IsTemplate() && sel.String() != topics[0]:
							templateHits++
						case sel.URLPattern() != nil:
							patternHits++
							if !strings.HasPrefix(topics[0], sel.URLPattern().Prefix()) {
								canonicalHits++
							}
						}
					}
				}
			}
		}
	}
	t.Logf("subscribers found through a template: %d, a URL pattern: %d (%d whose text does not start with the pattern's prefix)", templateHits, patternHits, canonicalHits)
	if templateHits < 500 || patternHits < 500 || canonicalHits < 100 {
		t.Errorf("only %d subscribers found through a template that matched another topic, %d through a URL pattern, %d through the canonical form of a topic: the test hardly checks them",
			templateHits, patternHits, canonicalHits)
	}
	// Everything removed, one subscriber at a time, the cache checked
	// after each (the list of added groups is compacted on the way): the
	// trees are empty again.
	for i, s := range live {
		x.remove(s)
		rest := live[i+1:]
		if len(rest) > 0 {
			tp := randTopic()
			if got, want := indexSubs(x, []string{tp}), bruteSubs(rest, []string{tp}); !slices.Equal(got, want) {
				t.Fatalf("removing, %q: index found %v, want %v", tp, got, want)
			}
		}
	}
	if x.epoch == 0 {
		t.Error("the list of added groups was never compacted: the test does not check that path")
	}
	if x.nTpl != 0 || x.nPat != 0 || len(x.tree.children) != 0 || len(x.tree.suffixes) != 0 ||
		len(x.patterns.children) != 0 || len(x.patterns.suffixes) != 0 || len(x.bases) != 0 || len(x.groups) != 0 {
		t.Errorf("after removing every subscriber: %d templates, %d patterns, %d children, %d suffixes at the root, %d pattern children, %d pattern suffixes, %d bases, %d groups",
			x.nTpl, x.nPat, len(x.tree.children), len(x.tree.suffixes), len(x.patterns.children), len(x.patterns.suffixes), len(x.bases), len(x.groups))
	}
}

// TestIndexCacheBounded: the memory of remembered matches stays within
// matchCacheBytes however many distinct topics are published.
func TestIndexCacheBounded(t *testing.T) {
	x := newIndex()
	x.add(&subscriber{id: "s", selectors: []*topic.Selector{topic.MustCompile("/books/{id}")}})
	long := strings.Repeat("x", 1000)
	for i := range 20_000 {
		indexSubs(x, []string{fmt.Sprintf("/books/%d%s", i, long)})
	}
	if x.cacheBytes > matchCacheBytes {
		t.Errorf("topic cache holds %d bytes, the bound is %d", x.cacheBytes, matchCacheBytes)
	}
	total := 0
	for k, c := range x.cache {
		total += len(k) + 8*cap(c.groups)
	}
	if total != x.cacheBytes {
		t.Errorf("topic cache: counted %d bytes, holds %d", x.cacheBytes, total)
	}

	// Cached topics that many templates added later match: what they learn
	// stays within the bound too.
	y := newIndex()
	var topics []string
	for i := range 100 {
		topics = append(topics, fmt.Sprintf("/t/%d%s", i, long[:200]))
	}
	for _, tp := range topics {
		indexSubs(y, []string{tp})
	}
	for i := range 1000 {
		y.add(&subscriber{id: fmt.Sprint(i), selectors: []*topic.Selector{topic.MustCompile(fmt.Sprintf("/t/{a}{b%d}", i))}})
		if i%250 == 0 {
			for _, tp := range topics {
				indexSubs(y, []string{tp})
			}
		}
	}
	for _, tp := range topics {
		if got := len(indexSubs(y, []string{tp})); got != 1000 {
			t.Fatalf("%d subscribers for %s, want 1000", got, tp[:8])
		}
	}
	if y.cacheBytes > matchCacheBytes {
		t.Errorf("topic cache holds %d bytes after templates were added, the bound is %d", y.cacheBytes, matchCacheBytes)
	}
}

// BenchmarkFanoutTemplates measures what finding the subscribers of one
// update costs when other subscribers hold 0, 1,000 or 10,000 distinct URI
// templates, or draft-08 URL patterns, that cannot match it: some with other
// literal prefixes, some with its prefix but another literal suffix (and,
// for patterns, some relative to the hub's URL). The cost must not grow
// with their number, whether the topic was seen before (cached) or not.
func BenchmarkFanoutTemplates(b *testing.B) {
	const base = "https://example.com/.well-known/mercure"
	pattern := func(p string) *topic.Selector {
		m, err := topic.CompileMatcher(topic.MatchURLPattern, p, base)
		if err != nil {
			b.Fatal(err)
		}
		return m.Selector()
	}
	for _, kind := range []string{"templates", "patterns"} {
		for _, n := range []int{0, 1_000, 10_000} {
			x := newIndex()
			legit := []*topic.Selector{topic.MustCompile("https://example.com/books/{id}"), topic.MustCompile("https://example.com/books/42")}
			if kind == "patterns" {
				legit[0] = pattern("https://example.com/books/:id")
			}
			x.add(&subscriber{id: "legit", selectors: legit})
			for i := range n {
				var sel *topic.Selector
				switch {
				case kind == "templates" && i%2 == 0:
					sel = topic.MustCompile(fmt.Sprintf("https://example.com/attack/%d/{id}", i))
				case kind == "templates":
					sel = topic.MustCompile(fmt.Sprintf("https://example.com/books/{id}/x%d", i))
				case i%3 == 0:
					sel = pattern(fmt.Sprintf("https://example.com/attack/%d/:id", i))
				case i%3 == 1:
					sel = pattern(fmt.Sprintf("https://example.com/books/:id/x%d", i))
				default:
					sel = pattern(fmt.Sprintf("/attack/%d/:id", i))
				}
				x.add(&subscriber{id: fmt.Sprint(i), selectors: []*topic.Selector{sel}})
			}
			b.Run(fmt.Sprintf("%s=%d/cached", kind, n), func(b *testing.B) {
				topics := []string{"https://example.com/books/42"}
				found := 0
				x.mu.RLock()
				for b.Loop() {
					x.each(topics, func(*subscriber) { found++ })
				}
				x.mu.RUnlock()
				if found == 0 {
					b.Fatal("nothing found")
				}
			})
			b.Run(fmt.Sprintf("%s=%d/new-topics", kind, n), func(b *testing.B) {
				topics := make([][]string, 4096)
				for i := range topics {
					topics[i] = []string{fmt.Sprintf("https://example.com/books/%d", i+1000)}
				}
				found, i := 0, 0
				x.mu.RLock()
				for b.Loop() {
					x.epoch++ // as if templates changed: nothing cached holds
					x.each(topics[i%len(topics)], func(*subscriber) { found++ })
					i++
				}
				x.mu.RUnlock()
				if found == 0 {
					b.Fatal("nothing found")
				}
			})
		}
	}
}

// TestIndexSharesDraft07SelectorsOnly: a live group's selector is shared
// with a new draft-07 subscription of the same string (Hub.Selector), but
// never when the group's selector is a draft-08 matcher, even one that
// selects the same topics.
func TestIndexSharesDraft07SelectorsOnly(t *testing.T) {
	x := newIndex()
	for _, v := range []string{"/a", "/a/{b}", "*"} {
		m, err := topic.CompileMatcher(topic.MatchExact, v, "https://hub.example/.well-known/mercure")
		if err != nil {
			t.Fatal(err)
		}
		x.add(&subscriber{id: "08 " + v, selectors: []*topic.Selector{m.Selector()}})
		if sel, ok := x.selector(v); ok {
			t.Errorf("selector(%q) shares the draft-08 matcher %v (type %q)", v, sel, sel.MatchType())
		}
		own := topic.MustCompile(v)
		x.add(&subscriber{id: "07 " + v, selectors: []*topic.Selector{own}})
		if sel, ok := x.selector(v); ok && sel.MatchType() != "" {
			t.Errorf("selector(%q) returned a matcher", v)
		}
	}
	if sel, ok := x.selector("/a/{b}"); !ok || !sel.IsTemplate() {
		t.Errorf(`selector("/a/{b}") = %v, %v; want the live draft-07 template`, sel, ok)
	}
}
