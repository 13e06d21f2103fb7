package memory

import (
	"math/rand/v2"
	"testing"

	"github.com/herald-sse/herald"
)

// TestHistory: a history holds what a plain slice would, across chunk
// boundaries, however pushes and pops interleave, and keeps no more chunks
// than it needs.
func TestHistory(t *testing.T) {
	var h history
	var model []uint64
	var next uint64
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 200_000 {
		// Grow and shrink in waves, through 0 now and then.
		grow := (step/20_000)%2 == 0
		if rng.IntN(10) < 6 == grow {
			next++
			h.push(herald.Update{Seq: next, Data: "x"})
			model = append(model, next)
		} else if len(model) > 0 {
			h.pop()
			model = model[1:]
		}
		if h.len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, h.len(), len(model))
		}
		if len(model) > 0 {
			for _, i := range []int{0, len(model) - 1, rng.IntN(len(model))} {
				if got := h.at(i).Seq; got != model[i] {
					t.Fatalf("step %d: at(%d) = %d, want %d", step, i, got, model[i])
				}
			}
		}
		if want := (h.head + h.n + chunkLen - 1) / chunkLen; len(h.chunks) != want {
			t.Fatalf("step %d: %d chunks for %d updates from %d, want %d", step, len(h.chunks), h.n, h.head, want)
		}
		if cap(h.chunks) > 2*len(h.chunks)+16+1 && cap(h.chunks) > 64 {
			t.Fatalf("step %d: the chunk list has capacity %d for %d chunks", step, cap(h.chunks), len(h.chunks))
		}
	}
}

// TestHistoryReleases: a dropped update's strings are not held, neither in
// the chunk it was in nor in the chunk kept for reuse.
func TestHistoryReleases(t *testing.T) {
	var h history
	for i := range 3 * chunkLen {
		h.push(herald.Update{Seq: uint64(i + 1), Data: "data"})
	}
	for range chunkLen + 10 {
		h.pop()
	}
	for i, u := range h.chunks[0][:h.head] {
		if u.Data != "" {
			t.Fatalf("dropped update %d of the first chunk still holds its data", i)
		}
	}
	if h.spare == nil || len(h.spare) != 0 {
		t.Fatalf("spare chunk %d/%d, want an empty one kept", len(h.spare), cap(h.spare))
	}
	for i, u := range h.spare[:cap(h.spare)] {
		if u.Data != "" {
			t.Fatalf("the spare chunk still holds data at %d", i)
		}
	}
}
