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

// TestIndexMatchesEverySelector: whatever selectors are subscribed to and
// unsubscribed from, in any order, the index finds exactly the subscribers
// that trying every selector finds, for topics that match, nearly match or
// share affixes with the templates; cached answers stay right as templates
// come and go.
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
	randTopic := func() string {
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
	x := newIndex()
	var live []*subscriber
	n, templateHits := 0, 0
	for step := range 1500 {
		switch {
		case len(live) < 5 || rng.IntN(3) > 0:
			var sels []*topic.Selector
			for range 1 + rng.IntN(3) {
				raw := randTemplate()
				switch rng.IntN(6) {
				case 0:
					raw = randTopic() // exact
				case 1:
					raw = topic.All
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
			// Also the raw text of a template, which matches itself.
			if len(live) > 0 && rng.IntN(4) == 0 {
				s := live[rng.IntN(len(live))]
				topics = append(topics, s.selectors[0].String())
			}
			got, want := indexSubs(x, topics), bruteSubs(live, topics)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d, topics %q: index found %v, want %v", step, topics, got, want)
			}
			for _, id := range want {
				for _, s := range live {
					if s.id == id && slices.ContainsFunc(s.selectors, func(sel *topic.Selector) bool {
						return sel.IsTemplate() && sel.String() != topics[0] && matchAny(sel, topics[:1])
					}) {
						templateHits++
					}
				}
			}
		}
	}
	if x.epoch == 0 {
		t.Error("the list of added templates was never compacted: the test does not check that path")
	}
	if templateHits < 500 {
		t.Errorf("only %d subscribers found through a template that matched another topic: the test hardly checks templates", templateHits)
	}
	// Everything removed: the tree is empty again.
	for _, s := range live {
		x.remove(s)
	}
	if x.nTpl.Load() != 0 || len(x.tree.children) != 0 || len(x.tree.suffixes) != 0 || len(x.groups) != 0 {
		t.Errorf("after removing every subscriber: %d templates, %d children, %d suffixes at the root, %d groups",
			x.nTpl.Load(), len(x.tree.children), len(x.tree.suffixes), len(x.groups))
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
// templates that cannot match it: some with other literal prefixes, some
// with its prefix but another literal suffix. The cost must not grow with
// their number, whether the topic was seen before (cached) or not.
func BenchmarkFanoutTemplates(b *testing.B) {
	for _, n := range []int{0, 1_000, 10_000} {
		x := newIndex()
		x.add(&subscriber{id: "legit", selectors: []*topic.Selector{
			topic.MustCompile("https://example.com/books/{id}"),
			topic.MustCompile("https://example.com/books/42"),
		}})
		for i := range n {
			raw := fmt.Sprintf("https://example.com/attack/%d/{id}", i)
			if i%2 == 1 {
				raw = fmt.Sprintf("https://example.com/books/{id}/x%d", i)
			}
			x.add(&subscriber{id: fmt.Sprint(i), selectors: []*topic.Selector{topic.MustCompile(raw)}})
		}
		b.Run(fmt.Sprintf("templates=%d/cached", n), func(b *testing.B) {
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
		b.Run(fmt.Sprintf("templates=%d/new-topics", n), func(b *testing.B) {
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
