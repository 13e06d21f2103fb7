package storetest_test

import (
	"slices"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/store/storetest"
)

// TestHelpers: AppendData, ReplayIDs and AppendFromNodes do what their doc
// comments say, on the in-memory store (one store standing for two nodes).
func TestHelpers(t *testing.T) {
	s := memory.New(memory.Options{})
	t.Cleanup(func() { _ = s.Close() })

	first := storetest.AppendData(t, s, "first")
	if first.ID == "" || first.Seq == 0 || !slices.Equal(first.Topics, []string{"t"}) || first.Data != "first" {
		t.Fatalf("AppendData = %+v, want the acknowledged update on topic t", first)
	}
	ids := storetest.AppendFromNodes(t, []herald.Store{s, s}, 10)
	if len(ids) != 20 {
		t.Fatalf("AppendFromNodes returned %d ids, want 20", len(ids))
	}
	got, err := storetest.ReplayIDs(t, s, first.ID)
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("ReplayIDs(first) = %q, %v; want the ids AppendFromNodes returned, in Seq order: %q", got, err, ids)
	}
	if got, err := storetest.ReplayIDs(t, s, ids[len(ids)-1]); err != nil || len(got) != 0 {
		t.Fatalf("ReplayIDs(newest) = %q, %v; want none", got, err)
	}
}
