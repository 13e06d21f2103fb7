package bolt

import (
	"slices"
	"testing"

	"github.com/herald-sse/herald"
)

// testFrames returns the frames of the updates at seqs, each with data.
func testFrames(w *wal, data string, seqs ...uint64) []byte {
	var b []byte
	for _, seq := range seqs {
		u := herald.Update{Topics: []string{"t"}, Data: data}
		var start int
		b, start = beginFrame(b)
		b = appendRecord(b, &u, false)
		w.sealFrame(b[start:], seq, false)
	}
	return b
}

func frameSeqs(frames []walFrame) []uint64 {
	var seqs []uint64
	for _, f := range frames {
		seqs = append(seqs, f.seq)
	}
	return seqs
}

// TestWALHeal: after a write whose frames reached the file but that failed
// (its sync did, say), the next write is healed first: the failed write's
// frames are zeroed, so that a shorter write in their place is not followed,
// on recovery, by frames of the failed one that continue its Seqs (updates
// never acknowledged). A failed reset is healed the same way.
func TestWALHeal(t *testing.T) {
	dir := t.TempDir()
	w, frames, err := openWAL(dir, "inst", 1<<16)
	if err != nil || len(frames) != 0 {
		t.Fatalf("openWAL = %d frames, %v", len(frames), err)
	}
	if err := w.write(testFrames(w, "one", 1)); err != nil {
		t.Fatal(err)
	}
	// The write of 2 and 3 reaches the file, then fails.
	failed := testFrames(w, "two", 2, 3)
	if _, err := w.f.WriteAt(failed, w.off); err != nil {
		t.Fatal(err)
	}
	w.dirty = int64(len(failed)) // as write does when its sync fails
	// 2 again, as long as the failed 2: without healing, the failed 3
	// would follow it.
	if err := w.write(testFrames(w, "TWO", 2)); err != nil {
		t.Fatal(err)
	}
	if w.failed() {
		t.Fatal("the wal still needs healing after a successful write")
	}
	w.close()
	w, frames, err = openWAL(dir, "inst", 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if got := frameSeqs(frames); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("after a failed write and a healed one, the log holds frames %v, want [1 2] (3 was never acknowledged)", got)
	}

	// A reset whose header write failed: the next write first writes the
	// new generation's header.
	gen := w.gen
	w.gen++
	w.off, w.header = walHeaderSize, true // as reset does when it fails
	if err := w.write(testFrames(w, "after reset", 10)); err != nil {
		t.Fatal(err)
	}
	w.close()
	w, frames, err = openWAL(dir, "inst", 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if got := frameSeqs(frames); w.gen != gen+1 || !slices.Equal(got, []uint64{10}) {
		t.Fatalf("after a failed reset and a healed write, the log is generation %d with frames %v, want %d with [10]", w.gen, got, gen+1)
	}

	// A file that cannot be written keeps failing, and keeps saying so.
	w.f.Close()
	if err := w.write(testFrames(w, "x", 11)); err == nil || !w.failed() {
		t.Fatalf("write to a closed file = %v, failed() = %v", err, w.failed())
	}
	if err := w.reset(); err == nil {
		t.Fatalf("reset of an unhealed log = %v, want an error", err)
	}
}
