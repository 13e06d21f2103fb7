package hub

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/herald-sse/herald/topic"
)

// index finds the subscribers an update is for, at a cost that depends on the
// selectors that match it, not on the others:
//
//   - a selector that can only match one topic (a draft-07 exact selector or
//     a draft-08 exact matcher) is found by map lookup;
//   - "*" (of either generation) is one group, always selected;
//   - a template is evaluated only against topics that start and end with
//     its literal affixes (see [topic.Selector.Affixes]): templates are kept
//     in a radix tree keyed by their literal prefix, and at each node by
//     their literal suffix, so a topic reaches only the templates whose
//     affixes it has, walking at most its own length;
//   - a draft-08 URL pattern matches the canonical form of a topic (host in
//     lower case, no default port, dot segments removed, a relative topic
//     resolved against the pattern's base: see [topic.CanonicalURL]), which
//     may not start with the topic's text: URL patterns are kept in a second
//     tree keyed by the literal prefix and suffix of that canonical form
//     ([topic.URLPattern.Prefix] and Suffix), walked with the topic's
//     canonical form: computed once for a URL with an authority, once per
//     base URL the patterns were compiled against for a relative one (one
//     base when the hub's URL is configured);
//   - the templates and patterns a topic matched are remembered (bounded in
//     bytes), so a topic published again costs one map lookup; those added
//     since are tried against it then, once each, rather than all again.
//
// Each distinct selector ([topic.Selector.Key]) is one group, evaluated once
// per update however many subscribers share it. The topic cache and the
// walks are used by the fan-out goroutine only, under mu held for reading;
// changes to the groups take mu for writing.
type index struct {
	mu       sync.RWMutex
	groups   map[string]*group // by selector key
	literal  map[string]*group // by the one topic an exact selector matches
	any      *group            // "*", when someone subscribed to it
	tree     prefixNode        // templates, by literal prefix
	nTpl     int               // template groups
	patterns prefixNode        // URL patterns, by the literal prefix of the canonical form
	nPat     int               // URL-pattern groups
	nEval    atomic.Int64      // nTpl + nPat, read without the lock by Stats
	bases    map[string]int    // base URL -> URL-pattern groups compiled against it
	all      map[*subscriber]struct{}

	// added lists the template and pattern groups in the order they were
	// added, removed ones included until it is compacted; a cached match
	// knows how far in it it has looked. epoch is bumped when it is
	// compacted, which makes every cached match stale.
	added []*group
	dead  int // removed groups in added
	epoch uint64

	cache      map[string]*cachedMatch // topic -> template groups it matches; fan-out goroutine only
	cacheBytes int
	scratch    []*group // fan-out goroutine only
}

// matchCacheBytes bounds the memory of the topic cache: the topics' bytes
// plus a pointer per group they match.
const matchCacheBytes = 4 << 20

type cachedMatch struct {
	epoch  uint64
	seen   int      // the groups of index.added before this one were tried
	groups []*group // the template and URL-pattern groups the topic matched
}

// group is the set of subscribers that use one selector.
type group struct {
	sel  *topic.Selector
	subs map[*subscriber]struct{}
	dead bool // removed from the index; cached matches skip it
}

// prefixNode is a node of a radix tree of templates keyed by their literal
// prefix: the path from the root spells the prefix.
type prefixNode struct {
	label    string        // the edge from the parent
	children []*prefixNode // sorted by the first byte of their label
	suffixes map[string]map[*group]struct{}
	lens     []int       // the distinct lengths of suffixes, ascending
	lenCount map[int]int // how many suffixes have each length
}

func newIndex() *index {
	return &index{
		groups:  make(map[string]*group),
		literal: make(map[string]*group),
		bases:   make(map[string]int),
		all:     make(map[*subscriber]struct{}),
		cache:   make(map[string]*cachedMatch),
	}
}

// selector returns the compiled draft-07 selector of a live group for the
// selector string s, if there is one: a new subscriber with the same string
// shares it. A group a draft-08 matcher opened (an exact matcher selects
// what an exact selector of the same text does) is not shared: its
// selector says it is a matcher.
func (x *index) selector(s string) (*topic.Selector, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if g := x.groups[topic.KeyOf(s)]; g != nil && g.sel.MatchType() == "" {
		return g.sel, true
	}
	return nil, false
}

// costly reports whether sel is evaluated rather than looked up: a URI
// template or a URL pattern.
func costly(sel *topic.Selector) bool { return sel.IsTemplate() || sel.URLPattern() != nil }

// newTemplates returns how many template and URL-pattern groups adding sels
// would create, and how many there are.
func (x *index) newTemplates(sels []*topic.Selector) (added, total int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, sel := range sels {
		if costly(sel) && x.groups[sel.Key()] == nil {
			added++
		}
	}
	return added, int(x.nEval.Load())
}

func (x *index) add(s *subscriber) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.all[s] = struct{}{}
	for _, sel := range s.selectors {
		key := sel.Key()
		g := x.groups[key]
		if g == nil {
			g = &group{sel: sel, subs: make(map[*subscriber]struct{})}
			x.groups[key] = g
			switch lit, isLiteral := sel.Literal(); {
			case isLiteral:
				x.literal[lit] = g
			case sel.IsAll():
				x.any = g
			case sel.URLPattern() != nil:
				p := sel.URLPattern()
				x.patterns.insert(g, p.Prefix(), p.Suffix())
				x.bases[p.Base()]++
				x.nPat++
				x.nEval.Add(1)
				x.added = append(x.added, g)
			default:
				prefix, suffix := sel.Affixes()
				x.tree.insert(g, prefix, suffix)
				x.nTpl++
				x.nEval.Add(1)
				x.added = append(x.added, g)
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
		key := sel.Key()
		g := x.groups[key]
		if g == nil {
			continue
		}
		delete(g.subs, s)
		if len(g.subs) > 0 {
			continue
		}
		g.dead = true
		delete(x.groups, key)
		switch lit, isLiteral := sel.Literal(); {
		case isLiteral:
			delete(x.literal, lit)
		case sel.IsAll():
			x.any = nil
		case sel.URLPattern() != nil:
			p := sel.URLPattern()
			x.patterns.remove(g, p.Prefix(), p.Suffix())
			if x.bases[p.Base()]--; x.bases[p.Base()] == 0 {
				delete(x.bases, p.Base())
			}
			x.nPat--
			x.nEval.Add(-1)
			x.dead++
		default:
			prefix, suffix := sel.Affixes()
			x.tree.remove(g, prefix, suffix)
			x.nTpl--
			x.nEval.Add(-1)
			x.dead++
		}
	}
	if x.dead > 64 && x.dead > len(x.added)/2 {
		// Compact: what cached matches saw of added no longer holds.
		x.added = slices.DeleteFunc(x.added, func(g *group) bool { return g.dead })
		x.dead = 0
		x.epoch++
	}
	return true
}

// each calls fn for every subscriber with a selector matching one of topics.
// A subscriber may be passed more than once; the caller removes duplicates.
// The caller holds x.mu for reading, and is the fan-out goroutine.
func (x *index) each(topics []string, fn func(*subscriber)) {
	for _, t := range topics {
		if g := x.literal[t]; g != nil {
			for s := range g.subs {
				fn(s)
			}
		}
	}
	if x.any != nil {
		for s := range x.any.subs {
			fn(s)
		}
	}
	if x.nTpl == 0 && x.nPat == 0 {
		return
	}
	for _, t := range topics {
		for _, g := range x.evaluated(t) {
			if g.dead {
				continue
			}
			for s := range g.subs {
				fn(s)
			}
		}
	}
}

// evaluated returns the template and URL-pattern groups that match t (some
// may have died since): from the topic cache, trying only the groups added
// since t was last seen, or from the trees.
func (x *index) evaluated(t string) []*group {
	if c := x.cache[t]; c != nil {
		if c.epoch == x.epoch {
			if c.seen < len(x.added) {
				before := cap(c.groups)
				for _, g := range x.added[c.seen:] {
					if !g.dead && g.sel.Match(t) {
						c.groups = append(c.groups, g)
					}
				}
				c.seen = len(x.added)
				x.cacheBytes += 8 * (cap(c.groups) - before)
				x.evict(t, 0)
			}
			return c.groups
		}
		x.cacheBytes -= len(t) + 8*cap(c.groups)
		delete(x.cache, t)
	}
	found := x.scratch[:0]
	match := func(g *group) {
		if g.sel.Match(t) {
			found = append(found, g)
		}
	}
	if x.nTpl > 0 {
		x.tree.candidates(t, match)
	}
	if x.nPat > 0 {
		x.patternCandidates(t, match)
	}
	x.scratch = found[:0]
	groups := slices.Clip(slices.Clone(found))
	size := len(t) + 8*cap(groups)
	x.evict(t, size)
	if size <= matchCacheBytes {
		x.cache[t] = &cachedMatch{epoch: x.epoch, seen: len(x.added), groups: groups}
		x.cacheBytes += size
	}
	return groups
}

// evict drops arbitrary cached matches, other than keep's, until room more
// bytes fit within matchCacheBytes.
func (x *index) evict(keep string, room int) {
	for k, c := range x.cache {
		if x.cacheBytes+room <= matchCacheBytes {
			return
		}
		if k == keep {
			continue
		}
		x.cacheBytes -= len(k) + 8*cap(c.groups)
		delete(x.cache, k)
	}
}

// patternCandidates calls fn for every URL-pattern group whose literal prefix
// and suffix the canonical form of t has, against the group's base: those
// that may match t. A topic that is not a URL matches no URL pattern.
func (x *index) patternCandidates(t string, fn func(*group)) {
	if !topic.NeedsBase(t) {
		if c, ok := topic.CanonicalURL(t, ""); ok {
			x.patterns.candidates(c, fn)
		}
		return
	}
	for base := range x.bases {
		c, ok := topic.CanonicalURL(t, base)
		if !ok {
			continue
		}
		x.patterns.candidates(c, func(g *group) {
			if g.sel.URLPattern().Base() == base {
				fn(g)
			}
		})
	}
}

// insert adds group g under a literal prefix and suffix.
func (n *prefixNode) insert(g *group, prefix, suffix string) {
	n = n.node(prefix, true)
	if n.suffixes == nil {
		n.suffixes = make(map[string]map[*group]struct{})
		n.lenCount = make(map[int]int)
	}
	set := n.suffixes[suffix]
	if set == nil {
		set = make(map[*group]struct{})
		n.suffixes[suffix] = set
		if n.lenCount[len(suffix)] == 0 {
			i, _ := slices.BinarySearch(n.lens, len(suffix))
			n.lens = slices.Insert(n.lens, i, len(suffix))
		}
		n.lenCount[len(suffix)]++
	}
	set[g] = struct{}{}
}

// remove takes group g, inserted with prefix and suffix, out of the tree,
// pruning what is left empty.
func (n *prefixNode) remove(g *group, prefix, suffix string) {
	path := []*prefixNode{n}
	for rest := prefix; rest != ""; {
		c := n.child(rest[0])
		if c == nil || len(c.label) > len(rest) || rest[:len(c.label)] != c.label {
			return
		}
		rest = rest[len(c.label):]
		n = c
		path = append(path, n)
	}
	set := n.suffixes[suffix]
	delete(set, g)
	if len(set) > 0 {
		return
	}
	delete(n.suffixes, suffix)
	if n.lenCount[len(suffix)]--; n.lenCount[len(suffix)] == 0 {
		delete(n.lenCount, len(suffix))
		i, _ := slices.BinarySearch(n.lens, len(suffix))
		n.lens = slices.Delete(n.lens, i, i+1)
	}
	// Prune nodes that hold nothing, from the leaf up.
	for i := len(path) - 1; i > 0; i-- {
		node, parent := path[i], path[i-1]
		if len(node.suffixes) > 0 || len(node.children) > 1 {
			break
		}
		j := parent.childIndex(node.label[0])
		if len(node.children) == 1 { // merge the lone child into node's edge
			only := node.children[0]
			only.label = node.label + only.label
			parent.children[j] = only
			break
		}
		parent.children = slices.Delete(parent.children, j, j+1)
	}
}

// node returns the node whose path spells key, creating it (and splitting
// an edge) when create is set; nil when it does not exist and create is not.
func (n *prefixNode) node(key string, create bool) *prefixNode {
	for key != "" {
		i := n.childIndex(key[0])
		if i < 0 {
			if !create {
				return nil
			}
			c := &prefixNode{label: key}
			j, _ := slices.BinarySearchFunc(n.children, key[0], func(c *prefixNode, b byte) int { return int(c.label[0]) - int(b) })
			n.children = slices.Insert(n.children, j, c)
			return c
		}
		c := n.children[i]
		common := commonPrefix(c.label, key)
		if common < len(c.label) {
			if !create {
				return nil
			}
			// Split the edge: a new node for the common part.
			mid := &prefixNode{label: c.label[:common], children: []*prefixNode{c}}
			c.label = c.label[common:]
			n.children[i] = mid
			c = mid
		}
		key = key[common:]
		n = c
	}
	return n
}

func (n *prefixNode) childIndex(b byte) int {
	i, ok := slices.BinarySearchFunc(n.children, b, func(c *prefixNode, b byte) int { return int(c.label[0]) - int(b) })
	if !ok {
		return -1
	}
	return i
}

func (n *prefixNode) child(b byte) *prefixNode {
	if i := n.childIndex(b); i >= 0 {
		return n.children[i]
	}
	return nil
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// candidates calls fn for every group whose literal prefix and suffix t has
// (without overlapping): those that may match t.
func (n *prefixNode) candidates(t string, fn func(*group)) {
	depth := 0
	for {
		for _, l := range n.lens {
			if depth+l > len(t) {
				break
			}
			for g := range n.suffixes[t[len(t)-l:]] {
				fn(g)
			}
		}
		rest := t[depth:]
		if rest == "" {
			return
		}
		c := n.child(rest[0])
		if c == nil || len(c.label) > len(rest) || rest[:len(c.label)] != c.label {
			return
		}
		depth += len(c.label)
		n = c
	}
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
