package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/storetest"
)

// heldSession appends data with nothing moved to herald.db, and closes the
// store: the directory is then as a crash right after the last
// acknowledgement leaves it. It returns the updates as acknowledged.
func heldSession(t *testing.T, dir string, data ...string) []herald.Update {
	t.Helper()
	s, err := bolt.Open(dir, bolt.WithHeldApply(bolt.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	got := appendData(t, s, data...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return got
}

func sameUpdates(a, b []herald.Update) bool {
	return slices.EqualFunc(a, b, func(a, b herald.Update) bool {
		return a.ID == b.ID && a.Seq == b.Seq && a.Data == b.Data && a.Time.Equal(b.Time) && slices.Equal(a.Topics, b.Topics)
	})
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
		if i%4 == 0 {
			out[i] = "id:" + out[i] // a publisher-chosen id
		}
	}
	return out
}

// Updates acknowledged but not yet in herald.db are replayed, found by id,
// reported by Last, and moved into herald.db when the store reopens.
func TestWALHoldsWhatHeraldDBDoesNotHaveYet(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.WithHeldApply(bolt.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	want := appendData(t, s, numbered("u", 40)...)
	// Served from the tail alone.
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, want) {
		t.Fatalf("Replay(earliest) before anything reached herald.db = %v, want %v", got, want)
	}
	for _, i := range []int{0, 4, 17, 39} { // generated and publisher-chosen ids
		if got := replayAll(t, s, want[i].ID); !sameUpdates(got, want[i+1:]) {
			t.Fatalf("Replay(%s) = %d updates, want %d", want[i].ID, len(got), len(want)-i-1)
		}
	}
	if id, seq, err := s.Last(t.Context()); err != nil || id != want[39].ID || seq != want[39].Seq {
		t.Fatalf("Last = %q %d %v, want %q %d", id, seq, err, want[39].ID, want[39].Seq)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if seqs, _, _, err := bolt.WALFrames(dir, s.Instance()); err != nil || len(seqs) != 40 {
		t.Fatalf("the log holds %d frames (%v), want 40", len(seqs), err)
	}

	s = mustOpen(t, dir, bolt.Options{})
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, want) {
		t.Fatalf("after reopening, Replay(earliest) = %v, want %v", got, want)
	}
	if seqs, _, _, err := bolt.WALFrames(dir, s.Instance()); err != nil || len(seqs) != 0 {
		t.Fatalf("after recovery the log holds %d frames (%v), want none", len(seqs), err)
	}
	next := appendData(t, s, "after")
	if next[0].Seq != want[39].Seq+1 {
		t.Fatalf("Seq after recovery = %d, want %d", next[0].Seq, want[39].Seq+1)
	}
}

// Replay crosses from herald.db to the tail (and back, when the applier
// moves the tail meanwhile) without losing or repeating an update.
func TestReplayAcrossHeraldDBAndTail(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, bolt.Options{})
	first := appendData(t, s, numbered("a", 3000)...)
	if err := s.Close(); err != nil { // everything into herald.db
		t.Fatal(err)
	}
	s, err := bolt.Open(dir, bolt.WithHeldApply(bolt.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	second := appendData(t, s, numbered("b", 50)...)
	all := append(slices.Clone(first), second...)
	for _, i := range []int{0, 1000, 2998, 2999, 3000, 3049} {
		if got := replayAll(t, s, all[i].ID); !sameUpdates(got, all[i+1:]) {
			t.Fatalf("Replay(%s) = %d updates, want %d", all[i].ID, len(got), len(all)-i-1)
		}
	}
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, all) {
		t.Fatalf("Replay(earliest) = %d updates, want %d", len(got), len(all))
	}
}

// A crash tears only the last write: a damaged or partly written last frame
// is dropped (it was never acknowledged), everything before it is kept.
func TestWALTornLastWrite(t *testing.T) {
	damage := map[string]func(b []byte){
		"zeroed":      func(b []byte) { clear(b) },
		"one bit":     func(b []byte) { b[len(b)/2] ^= 1 },
		"header only": func(b []byte) { clear(b[16:]) },
		"half":        func(b []byte) { clear(b[len(b)/2:]) },
	}
	for name, mangle := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			want := heldSession(t, dir, numbered("u", 20)...)
			seqs, offsets, _, err := bolt.WALFrames(dir, instanceOf(t, dir))
			if err != nil || len(seqs) != 20 {
				t.Fatalf("log holds %d frames (%v), want 20", len(seqs), err)
			}
			path := filepath.Join(dir, bolt.WALName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			end := offsets[19] + int64(16+recordLen(t, b, offsets[19]))
			mangle(b[offsets[19]:end])
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, dir, bolt.Options{})
			if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, want[:19]) {
				t.Fatalf("after a torn last write, Replay(earliest) = %d updates, want the first 19", len(got))
			}
			if u := appendData(t, s, "next"); u[0].Seq != want[18].Seq+1 {
				t.Fatalf("Seq after the torn write = %d, want %d", u[0].Seq, want[18].Seq+1)
			}
		})
	}
}

// A crash that tears a batch's write drops the whole batch, never half of
// it, whichever of its frames is damaged; a complete batch followed by a
// torn write is kept whole.
func TestWALTornBatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frame  int // which of the 25 frames to damage: 15..19 are the batch
		keep   int // how many updates recovery keeps
		single bool
	}{
		{"last frame of the batch", 19, 15, false},
		{"middle frame of the batch", 17, 15, false},
		{"first frame of the batch", 15, 15, false},
		{"a single update after the batch", 20, 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := bolt.Open(dir, bolt.WithHeldApply(bolt.Options{}))
			if err != nil {
				t.Fatal(err)
			}
			want := appendData(t, s, numbered("u", 15)...)
			batch := make([]herald.Update, 5)
			for i := range batch {
				batch[i] = herald.Update{Topics: []string{"t"}, Data: fmt.Sprint("batch-", i)}
			}
			batch[2].ID = "batch-id"
			got, err := s.AppendBatch(t.Context(), batch)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, got...)
			if tc.single {
				want = append(want, appendData(t, s, numbered("v", 5)...)...)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			_, offsets, _, err := bolt.WALFrames(dir, instanceOf(t, dir))
			if err != nil || len(offsets) != len(want) {
				t.Fatalf("log holds %d frames (%v), want %d", len(offsets), err, len(want))
			}
			path := filepath.Join(dir, bolt.WALName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.single { // tear from the damaged frame on, as a crash does
				clear(b[offsets[tc.frame]:])
			} else {
				off := offsets[tc.frame]
				b[off+int64(16+recordLen(t, b, off)/2)] ^= 1
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir, bolt.Options{})
			if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, want[:tc.keep]) {
				t.Fatalf("after damaging frame %d, Replay(earliest) = %d updates, want the first %d", tc.frame, len(got), tc.keep)
			}
			if tc.keep == 15 {
				if _, err := s.Lookup(t.Context(), "batch-id"); !errors.Is(err, herald.ErrNotHeld) {
					t.Fatalf("Lookup of an id of the torn batch = %v, want ErrNotHeld", err)
				}
			}
		})
	}
}

// instanceOf returns the history instance named in the header of dir's log.
func instanceOf(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, bolt.WALName))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b[16:32]), "\x00")
}

// recordLen reads the length field of the frame at off (without the bit
// that marks a batch's frames).
func recordLen(t *testing.T, b []byte, off int64) int {
	t.Helper()
	return int(b[off]&0x7f)<<24 | int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
}

// The log is reset once it passes its size limit and herald.db holds all of
// it; nothing is lost across resets, with or without a crash.
func TestWALResets(t *testing.T) {
	dir := t.TempDir()
	opts := bolt.WithWALLimit(bolt.Options{}, 8<<10)
	s, err := bolt.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := appendData(t, s, numbered(strings.Repeat("x", 100), 600)...)
	_, _, gen, err := bolt.WALFrames(dir, s.Instance())
	if err != nil {
		t.Fatal(err)
	}
	if gen < 5 {
		t.Errorf("the log's generation after ~90 KB of updates with an 8 KiB limit is %d, want several resets", gen)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(want, heldSession(t, dir, numbered("held", 30)...)...)
	s = mustOpen(t, dir, opts)
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, want) {
		t.Fatalf("Replay(earliest) = %d updates, want %d", len(got), len(want))
	}
}

// A log that is not one, belongs to another history, or does not continue
// herald.db is refused, and neither file is modified.
func TestRefusesForeignOrDamagedWAL(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, dir string)
		want string
	}{
		{"random bytes", func(t *testing.T, dir string) {
			heldSession(t, dir, "a")
			os.WriteFile(filepath.Join(dir, bolt.WALName), []byte(strings.Repeat("not a log", 100)), 0o600)
		}, "not a Herald write-ahead log"},
		{"short", func(t *testing.T, dir string) {
			heldSession(t, dir, "a")
			os.WriteFile(filepath.Join(dir, bolt.WALName), []byte("HRLD"), 0o600)
		}, "not a Herald write-ahead log"},
		{"damaged header", func(t *testing.T, dir string) {
			heldSession(t, dir, "a")
			path := filepath.Join(dir, bolt.WALName)
			b, _ := os.ReadFile(path)
			b[12] ^= 0xff
			os.WriteFile(path, b, 0o600)
		}, "damaged write-ahead log header"},
		{"another history's log", func(t *testing.T, dir string) {
			heldSession(t, dir, "a")
			other := t.TempDir()
			heldSession(t, other, "b")
			b, _ := os.ReadFile(filepath.Join(other, bolt.WALName))
			os.WriteFile(filepath.Join(dir, bolt.WALName), b, 0o600)
		}, "belongs to history instance"},
		{"a gap", func(t *testing.T, dir string) {
			// herald.db ends at 5; a log that starts at 7.
			s := mustOpenPlain(t, dir)
			appendData(t, s, "1", "2", "3", "4", "5")
			s.Close()
			snapshot := t.TempDir()
			copyFile(t, filepath.Join(dir, bolt.FileName), filepath.Join(snapshot, bolt.FileName))
			s = mustOpenPlain(t, dir)
			appendData(t, s, "6")
			s.Close()
			heldSession(t, dir, "7", "8")
			copyFile(t, filepath.Join(snapshot, bolt.FileName), filepath.Join(dir, bolt.FileName))
		}, "continues at update 7 but herald.db ends at 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.make(t, dir)
			db, wal := filepath.Join(dir, bolt.FileName), filepath.Join(dir, bolt.WALName)
			dbSum, walSum := fileSum(t, db), fileSum(t, wal)
			s, err := bolt.Open(dir, bolt.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			checkRefusal(t, err, wal, tc.want, "refusing to modify")
			if fileSum(t, db) != dbSum || fileSum(t, wal) != walSum {
				t.Error("Open modified a file it refused")
			}
		})
	}
}

// A log without its herald.db is not silently replaced by a new history.
func TestRefusesWALWithoutHeraldDB(t *testing.T) {
	dir := t.TempDir()
	heldSession(t, dir, "a", "b")
	if err := os.Remove(filepath.Join(dir, bolt.FileName)); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(dir, bolt.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with a log and no herald.db")
	}
	if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), "herald.db is missing") {
		t.Fatalf("Open error = %v, want ErrInvalid saying herald.db is missing", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("Open left %v, want the log alone", entries)
	}
}

func mustOpenPlain(t *testing.T, dir string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// While the log cannot be written, Append fails with ErrUnavailable (nothing
// acknowledged) and Healthy says so; a restart recovers every update
// acknowledged before. (A log that can be written again is healed without
// a restart: TestFullDisk, TestWALHeal.)
func TestWALWriteFailure(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.WithHeldApply(bolt.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	want := appendData(t, s, numbered("u", 10)...)
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy = %v before any failure", err)
	}
	bolt.BreakWAL(s)
	for range 2 { // the file stays broken: so does Append
		if _, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: "lost"}); !errors.Is(err, herald.ErrUnavailable) || !strings.Contains(err.Error(), "write-ahead log cannot be written") {
			t.Fatalf("Append on a broken log = %v, want ErrUnavailable saying the write-ahead log cannot be written", err)
		}
	}
	if err := s.Healthy(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Healthy = %v on a broken log, want ErrUnavailable", err)
	}
	s.Close() // reports the closed file; the log is as the failure left it

	s = mustOpen(t, dir, bolt.Options{})
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, want) {
		t.Fatalf("after restart, Replay(earliest) = %d updates, want the %d acknowledged", len(got), len(want))
	}
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy after restart = %v", err)
	}
}

// An update that retention removes in the very transaction that moves it
// out of the tail is never seen held again once seen removed: readers see
// that transaction's commit and the tail's drop as one step.
func TestTrimmedInTheMovingTransactionStaysTrimmed(t *testing.T) {
	type target struct {
		s  *bolt.Store
		id string
	}
	targets := make(chan target, 1)
	results := make(chan error, 1)
	hook := func() {
		// herald.db no longer holds the first update (trimmed), the tail
		// still does: a Replay now must not find it.
		tg := <-targets
		go func() {
			results <- tg.s.Replay(context.Background(), tg.id, func(herald.Update) error { return nil })
		}()
		time.Sleep(50 * time.Millisecond) // the Replay runs meanwhile, unless it waits
	}
	var once sync.Once
	opts := bolt.WithAfterCommit(bolt.Options{Retention: herald.Retention{MaxCount: 3}}, func() { once.Do(hook) })
	s := mustOpen(t, t.TempDir(), opts)
	us := appendData(t, s, "a", "b", "c", "d", "e", "f")
	targets <- target{s, us[0].ID}
	select {
	case err := <-results:
		if !errors.Is(err, herald.ErrNotHeld) {
			t.Fatalf("Replay(%s) between the commit that trimmed it and the tail's drop = %v, want ErrNotHeld", us[0].ID, err)
		}
	case <-time.After(storetest.Timeout):
		t.Fatal("the applier never committed")
	}
}
