package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/herald-sse/herald"
)

// RunNodes runs, as subtests of t, the checks of what a log shared by
// several store instances adds to the suite: ids are held once across
// instances (exactly one of concurrent appends of an id on different
// instances wins, and an id trimmed on one is free on all), batches from
// one instance are never interleaved with another's updates, and every
// instance looks up, replays after and reports the positions of what the
// others appended. open must return n stores (nodes of a cluster) on one
// new, empty log, keeping history as r says; it is called once per subtest,
// and RunNodes closes the stores it gets.
func RunNodes(t *testing.T, open func(t *testing.T, r herald.Retention, n int) []herald.Store) {
	s := &nodeSuite{open: open}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"ConflictAcrossNodes", s.testConflict},
		{"LookupAcrossNodes", s.testLookup},
		{"ReuseAfterTrimAcrossNodes", s.testReuseAfterTrim},
		{"BatchesAcrossNodes", s.testBatches},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type nodeSuite struct {
	open func(t *testing.T, r herald.Retention, n int) []herald.Store
}

func (s *nodeSuite) nodes(t *testing.T, r herald.Retention, n int) []herald.Store {
	t.Helper()
	nodes := s.open(t, r, n)
	if len(nodes) != n {
		t.Fatalf("open returned %d stores, want %d", len(nodes), n)
	}
	for _, st := range nodes {
		t.Cleanup(func() { _ = st.Close() })
	}
	return nodes
}

// testBatches: batches and single updates appended on two nodes at once:
// every node's watchers get all of them once, in Seq order, each batch in
// one piece with consecutive Seqs; of concurrent batches sharing an id on
// both nodes, exactly one is stored.
func (s *nodeSuite) testBatches(t *testing.T) {
	nodes := s.nodes(t, herald.Retention{}, 2)
	ws := []*watcher{startWatcher(t, nodes[0]), startWatcher(t, nodes[1])}
	probe := syncWatchers(t, nodes[0], ws...)
	batches, singles := AppendBatchesFromNodes(t, nodes, 3, 4, 10)
	all := append(slices.Concat(batches...), singles...)
	slices.SortFunc(all, func(a, b herald.Update) int { return cmp.Compare(a.Seq, b.Seq) })
	want := append([]herald.Update{probe}, all...)
	for i, w := range ws {
		w.waitSeen(t, fmt.Sprint("node ", i), want)
	}
	won := RaceAppendBatch(t, nodes, "nodes-race", 3)
	for k, st := range nodes {
		checkUpdates(t, fmt.Sprintf("node %d: Replay(the last update before the race)", k), mustReplay(t, st, all[len(all)-1].ID), won)
	}
}

// testConflict: concurrent appends of one id on two nodes: exactly one wins.
func (s *nodeSuite) testConflict(t *testing.T) {
	nodes := s.nodes(t, herald.Retention{}, 2)
	var winners []herald.Update
	for round := range 5 {
		winners = append(winners, RaceAppend(t, nodes, fmt.Sprintf("race-%d", round), 4))
	}
	for k, st := range nodes {
		checkUpdates(t, fmt.Sprintf("node %d: Replay(EarliestID) after the races", k), mustReplay(t, st, herald.EarliestID), winners)
	}
}

// testLookup: one node finds what another appended, by id and by position,
// and reports the other's newest update as its Last.
func (s *nodeSuite) testLookup(t *testing.T) {
	nodes := s.nodes(t, herald.Retention{}, 2)
	a, b := nodes[0], nodes[1]
	gen := mustAppend(t, a, upd("nodes", "generated"))
	pub := upd("nodes", "chosen")
	pub.ID = "nodes-chosen"
	pub = mustAppend(t, a, pub)
	instance := instanceOf(t, gen)
	for _, id := range []string{gen.ID, herald.FormatID(instance, gen.Seq)} {
		if d := sameUpdate(mustLookup(t, b, id), gen); d != "" {
			t.Errorf("node b: Lookup(%q): %s", id, d)
		}
	}
	for _, id := range []string{pub.ID, herald.FormatID(instance, pub.Seq)} {
		if d := sameUpdate(mustLookup(t, b, id), pub); d != "" {
			t.Errorf("node b: Lookup(%q): %s", id, d)
		}
	}
	pos, seq, err := b.Last(t.Context())
	if err != nil || pos != herald.FormatID(instance, pub.Seq) || seq != pub.Seq {
		t.Errorf("node b: Last = %q, %d, %v; want node a's newest position %q, %d", pos, seq, err, herald.FormatID(instance, pub.Seq), pub.Seq)
	}
	next := mustAppend(t, b, upd("nodes", "next"))
	checkUpdates(t, "node a: Replay(node b's Last)", mustReplay(t, a, pos), []herald.Update{next})
	checkConflict(t, b, pub)
}

// testReuseAfterTrim: an id trimmed from the shared log is free on every
// node, and held on every node once reused.
func (s *nodeSuite) testReuseAfterTrim(t *testing.T) {
	nodes := s.nodes(t, herald.Retention{MaxCount: 2}, 2)
	a, b := nodes[0], nodes[1]
	r := upd("reuse", "r1")
	r.ID = "r"
	first := mustAppend(t, a, r)
	us := append([]herald.Update{first}, appendN(t, b, "x", 2, 0)...)
	eventually(t, func() string {
		if n := heldSuffix(t, b, us); n != 2 {
			return fmt.Sprintf("node b holds %d updates with MaxCount 2", n)
		}
		return ""
	})
	r.Data = "r2"
	second := mustAppend(t, b, r)
	if d := sameUpdate(mustLookup(t, a, "r"), second); d != "" {
		t.Errorf("node a: Lookup of the id node b reused: %s", d)
	}
	r.Data = "r3"
	checkConflict(t, a, r)
}
