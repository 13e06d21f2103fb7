package hub

import (
	"sync"

	"github.com/herald-sse/herald/topic"
)

// index finds the subscribers an update is for without evaluating every
// selector of every subscriber: selectors that can only match one literal
// topic are found by map lookup, and each distinct pattern selector is
// evaluated once per update (its results are cached by the topic package),
// however many subscribers share it.
type index struct {
	mu       sync.RWMutex
	groups   map[string]*group // by selector string
	literal  map[string]*group // by the one topic a literal selector matches
	patterns map[string]*group // templates and "*"
	all      map[*subscriber]struct{}
}

// group is the set of subscribers that use one selector.
type group struct {
	sel  *topic.Selector
	subs map[*subscriber]struct{}
}

func newIndex() *index {
	return &index{
		groups:   make(map[string]*group),
		literal:  make(map[string]*group),
		patterns: make(map[string]*group),
		all:      make(map[*subscriber]struct{}),
	}
}

func (x *index) add(s *subscriber) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.all[s] = struct{}{}
	for _, sel := range s.selectors {
		key := sel.String()
		g := x.groups[key]
		if g == nil {
			g = &group{sel: sel, subs: make(map[*subscriber]struct{})}
			x.groups[key] = g
			if lit, ok := sel.Literal(); ok {
				x.literal[lit] = g
			} else {
				x.patterns[key] = g
			}
		}
		g.subs[s] = struct{}{}
	}
}

// remove reports whether s was registered.
func (x *index) remove(s *subscriber) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.all[s]; !ok {
		return false
	}
	delete(x.all, s)
	for _, sel := range s.selectors {
		key := sel.String()
		g := x.groups[key]
		if g == nil {
			continue
		}
		delete(g.subs, s)
		if len(g.subs) == 0 {
			delete(x.groups, key)
			if lit, ok := sel.Literal(); ok {
				delete(x.literal, lit)
			} else {
				delete(x.patterns, key)
			}
		}
	}
	return true
}

// each calls fn for every subscriber with a selector matching one of topics.
// A subscriber may be passed more than once; the caller removes duplicates.
// The caller holds x.mu for reading.
func (x *index) each(topics []string, fn func(*subscriber)) {
	for _, t := range topics {
		if g := x.literal[t]; g != nil {
			for s := range g.subs {
				fn(s)
			}
		}
	}
	for _, g := range x.patterns {
		if !g.sel.IsAll() && !matchAny(g.sel, topics) {
			continue
		}
		for s := range g.subs {
			fn(s)
		}
	}
}

func matchAny(sel *topic.Selector, topics []string) bool {
	for _, t := range topics {
		if sel.Match(t) {
			return true
		}
	}
	return false
}

// snapshot returns every registered subscriber, for work done outside the
// lock (closing them takes it).
func (x *index) snapshot() []*subscriber {
	x.mu.RLock()
	defer x.mu.RUnlock()
	subs := make([]*subscriber, 0, len(x.all))
	for s := range x.all {
		subs = append(subs, s)
	}
	return subs
}
