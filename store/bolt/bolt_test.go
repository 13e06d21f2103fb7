package bolt_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/storetest"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	code := m.Run()
	removeBenchHistories()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, r herald.Retention) herald.Store {
		// The suite closes the store before this cleanup runs.
		return mustOpen(t, t.TempDir(), bolt.Options{Retention: r})
	})
}

// mustOpen opens the store in dir; when the test ends it closes it and
// checks the file's invariants.
func mustOpen(tb testing.TB, dir string, opts bolt.Options) *bolt.Store {
	tb.Helper()
	s, err := bolt.Open(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
		if err := bolt.Check(s.Path()); err != nil {
			tb.Errorf("history invariants of %s: %v", s.Path(), err)
		}
	})
	return s
}

func appendData(t *testing.T, s herald.Store, data ...string) []herald.Update {
	t.Helper()
	out := make([]herald.Update, len(data))
	for i, d := range data {
		u := herald.Update{Topics: []string{"t"}, Data: d}
		if strings.HasPrefix(d, "id:") {
			u.ID = d
		}
		var err error
		if out[i], err = s.Append(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func replayAll(t *testing.T, s herald.Store, after string) []herald.Update {
	t.Helper()
	var got []herald.Update
	if err := s.Replay(t.Context(), after, func(u herald.Update) error {
		got = append(got, u)
		return nil
	}); err != nil {
		t.Fatalf("Replay(%q): %v", after, err)
	}
	return got
}

func TestReopenKeepsHistoryAndInstance(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := appendData(t, s, "a", "id:b", "c", "e")
	instance := s.Instance()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 || entries[0].Name() != bolt.FileName || entries[1].Name() != bolt.WALName {
		t.Fatalf("data directory holds %v, want only %s and %s", entries, bolt.FileName, bolt.WALName)
	}

	s = mustOpen(t, dir, bolt.Options{})
	if s.Instance() != instance {
		t.Fatalf("instance after restart = %q, want %q", s.Instance(), instance)
	}
	got := replayAll(t, s, herald.EarliestID)
	if !slices.EqualFunc(got, before, func(a, b herald.Update) bool {
		return a.ID == b.ID && a.Seq == b.Seq && a.Data == b.Data && a.Time.Equal(b.Time)
	}) {
		t.Fatalf("after restart replay = %+v, want %+v", got, before)
	}
	// Ids minted before the restart are still held, publishers' ids too:
	// herald.db's index finds them, and refuses them to a new update.
	if got := replayAll(t, s, before[0].ID); len(got) != 3 {
		t.Fatalf("Replay(id from before restart) = %d updates, want 3", len(got))
	}
	if got := replayAll(t, s, "id:b"); len(got) != 2 {
		t.Fatalf("Replay(publisher id from before restart) = %v, want 2 updates", got)
	}
	if u, err := s.Lookup(t.Context(), "id:b"); err != nil || u.Seq != before[1].Seq || u.Data != "id:b" {
		t.Fatalf("Lookup(publisher id from before restart) = %+v, %v; want update %d", u, err, before[1].Seq)
	}
	if _, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, ID: "id:b"}); !errors.Is(err, herald.ErrConflict) {
		t.Fatalf("Append of a publisher id held in herald.db = %v, want ErrConflict", err)
	}
	after := appendData(t, s, "d")
	if after[0].Seq != before[3].Seq+1 {
		t.Fatalf("Seq after restart = %d, want %d", after[0].Seq, before[3].Seq+1)
	}
	if last, _, err := s.Last(t.Context()); err != nil || last != after[0].ID {
		t.Fatalf("Last = %q, %v; want %q", last, err, after[0].ID)
	}
}

func TestSeqContinuesAfterEverythingExpired(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.Options{Retention: herald.Retention{MaxAge: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	old := appendData(t, s, "a", "b")
	deadline := time.Now().Add(storetest.Timeout)
	for len(replayAll(t, s, herald.EarliestID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("updates did not expire")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Close()
	s = mustOpen(t, dir, bolt.Options{})
	if u := appendData(t, s, "c"); u[0].Seq <= old[1].Seq {
		t.Fatalf("Seq after an emptied history and a restart = %d, want > %d (never reused)", u[0].Seq, old[1].Seq)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// writeBolt makes a valid bbolt file at path and lets fn fill it.
func writeBolt(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRefusesForeignOrDamagedFiles(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, dir, path string)
		want string
	}{
		{"random bytes", func(t *testing.T, dir, path string) {
			b := make([]byte, 64<<10)
			rand.Read(b)
			os.WriteFile(path, b, 0o600)
		}, "not a bbolt database"},
		{"empty file", func(t *testing.T, dir, path string) {
			os.WriteFile(path, nil, 0o600)
		}, "empty file"},
		{"foreign bolt file", func(t *testing.T, dir, path string) {
			writeBolt(t, path, func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucket([]byte("widgets"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			})
		}, "not a Herald history file (no meta bucket)"},
		{"foreign meta bucket", func(t *testing.T, dir, path string) {
			writeBolt(t, path, func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				return b.Put([]byte("format"), []byte("someone-else/7"))
			})
		}, "not a Herald history file (no format marker"},
		{"future format version", func(t *testing.T, dir, path string) {
			s, err := bolt.Open(dir, bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Update(func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("herald-history/2"))
			})
			db.Close()
		}, `history format version "2"`},
		{"damaged pages", func(t *testing.T, dir, path string) {
			if err := bolt.BulkLoad(dir, 3000, strings.Repeat("x", 1000)); err != nil {
				t.Fatal(err)
			}
			scribble(t, path)
		}, "damaged file"},
		{"truncated history", func(t *testing.T, dir, path string) {
			if err := bolt.BulkLoad(dir, 300, strings.Repeat("x", 1000)); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, "truncated file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, bolt.FileName)
			tc.make(t, dir, path)
			sum := fileSum(t, path)
			entries, _ := os.ReadDir(dir)
			s, err := bolt.Open(dir, bolt.Options{LockTimeout: 100 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			checkRefusal(t, err, path, tc.want, "refusing to modify it")
			if fileSum(t, path) != sum {
				t.Error("Open modified the file it refused")
			}
			if after, _ := os.ReadDir(dir); len(after) != len(entries) {
				t.Errorf("Open left files behind: %v", after)
			}
		})
	}
}

// checkRefusal checks that err is Open's refusal of the file at path: it
// wraps herald.ErrInvalid, names path, says want and that the file is left
// alone (in the words of refusal).
func checkRefusal(t *testing.T, err error, path, want, refusal string) {
	t.Helper()
	t.Logf("Open: %v", err)
	if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), refusal) {
		t.Errorf("Open error = %q; want one wrapping ErrInvalid that names %s, says %q and that it is left alone", err, path, want)
	}
}

// scribble overwrites 64 KiB in the middle of the file with random bytes.
func scribble(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := make([]byte, 64<<10)
	rand.Read(b)
	if _, err := f.WriteAt(b, fi.Size()/2&^4095); err != nil {
		t.Fatal(err)
	}
}

// Damage appearing while the store is open gives errors, not a crash.
func TestDamageAfterOpenGivesErrors(t *testing.T) {
	dir := t.TempDir()
	if err := bolt.BulkLoad(dir, 3000, strings.Repeat("x", 1000)); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(dir, bolt.Options{Retention: herald.Retention{MaxCount: math.MaxInt}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	scribble(t, s.Path()) // the store maps the file: it sees this at once
	err = s.Replay(t.Context(), herald.EarliestID, func(herald.Update) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("Replay over damaged pages = %v, want an error naming the damaged file", err)
	}
}

func TestOpenTimesOutOnLockedFile(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions, so a second Open in this
	// process conflicts just as another process would.
	_, err = bolt.Open(dir, bolt.Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, herald.ErrUnavailable) || !strings.Contains(err.Error(), filepath.Join(dir, bolt.FileName)) ||
		!strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second Open = %v; want a lock error wrapping ErrUnavailable that names the file", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir, bolt.Options{}) // the lock is released on Close
}

// TestZeroRetentionKeepsEverything: the zero Retention has no hidden count
// bound (the store once kept 1,000,000).
func TestZeroRetentionKeepsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a history of a million updates")
	}
	dir := t.TempDir()
	const n = 1_000_005
	if err := bolt.BulkLoad(dir, n, "d"); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newest := appendData(t, s, "newest")[0]
	if err := s.Close(); err != nil { // the applier moves everything and applies retention
		t.Fatal(err)
	}
	s = mustOpen(t, dir, bolt.Options{})
	first := herald.FormatID(s.Instance(), 1)
	if _, err := s.Lookup(t.Context(), first); err != nil {
		t.Fatalf("Lookup(the first of %d updates) with the zero Retention = %v, want held", n+1, err)
	}
	var held int
	if err := s.Replay(t.Context(), first, func(herald.Update) error { held++; return nil }); err != nil || held != n {
		t.Fatalf("Replay(first) = %d updates, %v; want %d", held, err, n)
	}
	if _, seq, _ := s.Last(t.Context()); seq != newest.Seq {
		t.Fatalf("Last Seq = %d, want %d", seq, newest.Seq)
	}
}

func TestRetentionCatchesUpInBatches(t *testing.T) {
	dir := t.TempDir()
	const n, keep = 5000, 300
	if err := bolt.BulkLoad(dir, n, "payload"); err != nil {
		t.Fatal(err)
	}
	// Reopened with a tighter bound and a small step: it trims in several
	// transactions, taking Appends in between.
	s := mustOpen(t, dir, bolt.WithTrimBatch(bolt.Options{Retention: herald.Retention{MaxCount: keep}}, 250))
	appendData(t, s, "new")
	deadline := time.Now().Add(storetest.Timeout)
	for {
		got := replayAll(t, s, herald.EarliestID)
		if len(got) == keep {
			if got[keep-1].Data != "new" || got[0].Seq != n+2-keep {
				t.Fatalf("kept Seqs %d..%d (last %q), want the newest %d", got[0].Seq, got[keep-1].Seq, got[keep-1].Data, keep)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d updates held, want %d", len(got), keep)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReplayAcrossChunks(t *testing.T) {
	dir := t.TempDir()
	const n = 3000
	if err := bolt.BulkLoad(dir, n, "d"); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir, bolt.Options{Retention: herald.Retention{MaxCount: math.MaxInt}})
	f, r := bolt.Chunks()
	first, rest := uint64(f), uint64(r)
	for _, after := range []uint64{0, 1, first - 1, first, first + 1, first + rest, 2000, n - 1, n} {
		id := herald.FormatID(s.Instance(), after)
		if after == 0 {
			id = herald.EarliestID
		}
		got := replayAll(t, s, id)
		if len(got) != n-int(after) {
			t.Fatalf("Replay(after %d) returned %d updates, want %d", after, len(got), n-int(after))
		}
		for i, u := range got {
			if u.Seq != after+uint64(i)+1 || u.Data != "d" || u.ID != herald.FormatID(s.Instance(), u.Seq) {
				t.Fatalf("Replay(after %d): update %d is %+v", after, i, u)
			}
		}
	}
}

// TestReplayWhenTrimmedUnderIt: when retention removes the updates a replay
// was about to send, a replay after an id fails part-way with ErrNotHeld (the
// subscriber has a gap), and a replay of everything held ("earliest") goes
// on from the oldest update still held, in order.
func TestReplayWhenTrimmedUnderIt(t *testing.T) {
	for _, fromEarliest := range []bool{false, true} {
		t.Run(fmt.Sprint("earliest=", fromEarliest), func(t *testing.T) {
			dir := t.TempDir()
			const n = 2000
			if err := bolt.BulkLoad(dir, n, "d"); err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, dir, bolt.Options{Retention: herald.Retention{MaxCount: n}})
			first, _ := bolt.Chunks()
			after := herald.EarliestID
			if !fromEarliest {
				after = herald.FormatID(s.Instance(), 1)
			}
			calls := 0
			var prev uint64
			err := s.Replay(t.Context(), after, func(u herald.Update) error {
				calls++
				if u.Seq <= prev {
					t.Fatalf("Replay went from Seq %d to %d", prev, u.Seq)
				}
				prev = u.Seq
				if calls > 1 {
					return nil
				}
				// Push the replay's next chunk out of the history.
				var wg sync.WaitGroup
				for g := range 10 {
					wg.Go(func() {
						for i := range 2 * first / 10 {
							if _, err := s.Append(context.Background(), herald.Update{Topics: []string{"t"}, Data: fmt.Sprint(g, i)}); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				gone := herald.FormatID(s.Instance(), uint64(first+2))
				deadline := time.Now().Add(storetest.Timeout)
				for !errors.Is(s.Replay(t.Context(), gone, func(herald.Update) error { return nil }), herald.ErrNotHeld) {
					if time.Now().After(deadline) {
						t.Fatal("retention did not trim")
					}
					time.Sleep(5 * time.Millisecond)
				}
				return nil
			})
			switch {
			case fromEarliest && err != nil:
				t.Fatalf("Replay(earliest) = %v after %d calls; want it to go on from the oldest held", err, calls)
			case fromEarliest && prev != n:
				t.Fatalf("Replay(earliest) ended at Seq %d, want %d (the newest when it started)", prev, n)
			case !fromEarliest && (!errors.Is(err, herald.ErrNotHeld) || calls != first):
				t.Fatalf("Replay(after 1) = %v after %d calls; want ErrNotHeld after the first chunk (%d)", err, calls, first)
			}
		})
	}
}

func TestAppendRefusesWhenClosedAndCloseIsIdempotent(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, _, err := s.Last(t.Context()); !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("Last after Close = %v, want ErrClosed", err)
	}
}
