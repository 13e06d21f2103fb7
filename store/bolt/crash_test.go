package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
)

// crashChildEnv makes the test binary a publisher (see crashChild).
const crashChildEnv = "HERALD_BOLT_CRASH_CHILD"

const (
	crashPublishers = 16
	crashMaxAppends = 20_000 // per publisher: bounds a child nobody kills
)

// crashChild is the child process of TestCrashKeepsAcknowledgedUpdates: it
// opens the history in dir and appends from 16 goroutines, a quarter of them
// in batches (AppendBatch) of 2 to 10 updates, writing
// "<seq> <id> <run> <publisher> <n> <batch's first n> <batch size>" to
// stdout (unbuffered) for each update once its Append or AppendBatch has
// returned, until it is killed.
func crashChild(dir string) {
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	update := func(p, n, first, size int) herald.Update {
		u := herald.Update{Topics: []string{"urn:crash"}, Data: fmt.Sprintf("%s %d %d %d %d", run, p, n, first, size)}
		if n%5 == 0 {
			u.ID = fmt.Sprintf("crash-%s-%d-%d", run, p, n)
		}
		return u
	}
	for p := range crashPublishers {
		wg.Go(func() {
			for n := 0; n < crashMaxAppends; {
				var got []herald.Update
				var err error
				if p%4 == 0 {
					size := 2 + n%9
					us := make([]herald.Update, size)
					for i := range us {
						us[i] = update(p, n+i, n, size)
					}
					got, err = s.AppendBatch(context.Background(), us)
				} else {
					var u herald.Update
					u, err = s.Append(context.Background(), update(p, n, n, 1))
					got = []herald.Update{u}
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				n += len(got)
				mu.Lock()
				for _, u := range got {
					fmt.Fprintf(os.Stdout, "%d %s %s\n", u.Seq, u.ID, u.Data)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.Close()
	os.Exit(0)
}

// acked is one line printed by the child: an acknowledged update.
type acked struct {
	seq       uint64
	id        string
	run       string
	publisher int
	n         int
	first     int // the n of the first update of its batch
	size      int // its batch's size (1: a single Append)
}

func (a acked) data() string {
	return fmt.Sprintf("%s %d %d %d %d", a.run, a.publisher, a.n, a.first, a.size)
}

// runCrashChild starts a publisher on dir, kills it with SIGKILL once it has
// acknowledged killAfter updates, and returns every update it acknowledged.
func runCrashChild(t *testing.T, dir string, killAfter int) []acked {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	safety := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer safety.Stop()
	var got []acked
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var a acked
		if _, err := fmt.Sscanf(sc.Text(), "%d %s %s %d %d %d %d", &a.seq, &a.id, &a.run, &a.publisher, &a.n, &a.first, &a.size); err != nil {
			t.Fatalf("child printed %q: %v", sc.Text(), err)
		}
		got = append(got, a)
		if len(got) == killAfter {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL, mid-burst
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 || !strings.Contains(exit.String(), "killed") {
		t.Fatalf("child ended with %v, want killed by SIGKILL; stderr:\n%s", err, stderr.String())
	}
	if len(got) < killAfter {
		t.Fatalf("child acknowledged only %d updates before dying; stderr:\n%s", len(got), stderr.String())
	}
	return got
}

// TestCrashKeepsAcknowledgedUpdates kills a publishing process with SIGKILL
// in the middle of a burst, three times on the same directory, and checks
// after each that the history opens, and holds every acknowledged update in
// order, with the same ids (the instance id survives), and every batch whole
// or not at all (acknowledged or not), with consecutive Seqs.
func TestCrashKeepsAcknowledgedUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	var all []acked
	for round := range 3 {
		all = append(all, runCrashChild(t, dir, 1500+round*500)...)

		s, err := bolt.Open(dir, bolt.Options{})
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
		}
		held := map[uint64]herald.Update{}
		var prev herald.Update
		lastN := map[string]int{} // run/publisher -> last n seen in Seq order
		var open *acked           // the batch being read, until its last update
		batches := 0
		err = s.Replay(t.Context(), herald.EarliestID, func(u herald.Update) error {
			if prev.Seq != 0 && u.Seq != prev.Seq+1 {
				return fmt.Errorf("Seq %d after %d", u.Seq, prev.Seq)
			}
			var a acked
			if _, err := fmt.Sscanf(u.Data, "%s %d %d %d %d", &a.run, &a.publisher, &a.n, &a.first, &a.size); err != nil {
				return fmt.Errorf("update %d data %q: %v", u.Seq, u.Data, err)
			}
			key := fmt.Sprint(a.run, "/", a.publisher)
			if last, ok := lastN[key]; ok && a.n != last+1 {
				return fmt.Errorf("publisher %s: update %d follows %d", key, a.n, last)
			}
			lastN[key] = a.n
			switch {
			case open != nil && (a.run != open.run || a.publisher != open.publisher || a.first != open.first):
				return fmt.Errorf("update %d (%s) interrupts the batch %s/%d at its update %d of %d", u.Seq, u.Data, key, open.first, open.n-open.first+1, open.size)
			case open == nil && a.n != a.first:
				return fmt.Errorf("update %d (%s) is held without the start of its batch: half a batch", u.Seq, u.Data)
			}
			open = &a
			if a.n == a.first+a.size-1 {
				open = nil // the batch is complete
				if a.size > 1 {
					batches++
				}
			}
			held[u.Seq] = u
			prev = u
			return nil
		})
		if err == nil && open != nil {
			err = fmt.Errorf("the history ends with update %d of %d of a batch: half a batch", open.n-open.first+1, open.size)
		}
		if err != nil {
			t.Fatalf("round %d: replay after SIGKILL: %v", round, err)
		}
		for _, a := range all {
			u, ok := held[a.seq]
			if !ok {
				t.Fatalf("round %d: acknowledged update %d (%s) is missing after SIGKILL", round, a.seq, a.id)
			}
			if u.ID != a.id || u.Data != a.data() {
				t.Fatalf("round %d: update %d is %q %q, acknowledged as %q", round, a.seq, u.ID, u.Data, a.id)
			}
		}
		// An id acknowledged in the first round still resumes correctly.
		var after int
		if err := s.Replay(t.Context(), all[0].id, func(herald.Update) error { after++; return nil }); err != nil || after != int(prev.Seq-all[0].seq) {
			t.Fatalf("round %d: Replay(%s) = %v with %d updates", round, all[0].id, err, after)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := bolt.Check(s.Path()); err != nil {
			t.Fatalf("round %d: history invariants after SIGKILL: %v", round, err)
		}
		t.Logf("round %d: %d acknowledged before SIGKILL, %d held, %d batches", round, len(all), len(held), batches)
	}
}
