package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/storetest"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts it
// when the test ends. It skips the test, saying why, when mounting is not
// permitted (not root, or no CAP_SYS_ADMIN in this container).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("a small file system is needed to fill the disk, and mounting a tmpfs is not permitted here (%v): run the test as root with CAP_SYS_ADMIN", err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the file system has no space left, and
// returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	for _, n := range []int{4096, 512, 1} { // the last scraps too
		for {
			if _, err := f.Write(block[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// TestFullDisk: on a full disk, publishing goes on while the preallocated
// write-ahead log has room, then fails with ErrUnavailable, storing nothing,
// and Healthy says so; once space is freed, publishing works again without a
// restart, and history holds exactly the acknowledged updates, before and
// after a restart.
func TestFullDisk(t *testing.T) {
	dir := mountTmpfs(t, 8<<20)
	opts := bolt.WithWALLimit(bolt.Options{}, 1<<20)
	s, err := bolt.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	filler := fill(t, dir)

	// An update larger than the (empty) log must grow it: on a full disk
	// the log's own write fails, and is healed by the next one.
	big := herald.Update{Topics: []string{"t"}, Data: strings.Repeat("b", 2<<20)}
	if _, err := s.Append(t.Context(), big); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Append of an update larger than the log on a full disk = %v, want ErrUnavailable", err)
	}
	if err := s.Healthy(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Healthy after the log could not be written = %v, want ErrUnavailable", err)
	}
	// The store heals the log by itself (overwriting what the failed write
	// left needs no new space), with no Append to trigger it.
	waitHealthy(t, s)
	acked := appendData(t, s, numbered("before-", 50)...) // the log has room

	payload := strings.Repeat("p", 1000)
	var refused []string
	for i := 0; i < 5000 && len(refused) < 3; i++ {
		data := fmt.Sprintf("full-%d-%s", i, payload)
		u, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: data})
		switch {
		case err == nil:
			acked = append(acked, u)
		case errors.Is(err, herald.ErrUnavailable):
			if len(refused) == 0 {
				t.Logf("after %d updates on a full disk, Append = %v", i, err)
			}
			refused = append(refused, data)
		default:
			t.Fatalf("Append on a full disk = %v, want nil or ErrUnavailable", err)
		}
	}
	if len(refused) == 0 {
		t.Fatal("5000 updates of 1 KB on a full disk were all acknowledged")
	}
	if err := s.Healthy(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Healthy on a full disk = %v, want ErrUnavailable", err)
	} else {
		t.Logf("Healthy on a full disk: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // the first attempt after space is freed must succeed
		u, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: fmt.Sprint("after-", i)})
		if err != nil {
			t.Fatalf("Append %d after space was freed = %v, want it stored without a restart", i, err)
		}
		acked = append(acked, u)
	}
	u, err := s.Append(t.Context(), big) // grows the log, now that it can
	if err != nil {
		t.Fatalf("Append of an update larger than the log after space was freed = %v, want it stored", err)
	}
	acked = append(acked, u)
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy after space was freed and an Append succeeded = %v", err)
	}
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, acked) {
		t.Fatalf("Replay(earliest) = %d updates, want exactly the %d acknowledged (%d refused)", len(got), len(acked), len(refused))
	}

	// Again, and this time Healthy recovers with no Append once space is
	// freed: the store retries by itself.
	filler = fill(t, dir)
	for i := 0; i < 5000; i++ {
		u, err := s.Append(t.Context(), herald.Update{Topics: []string{"t"}, Data: fmt.Sprintf("again-%d-%s", i, payload)})
		if err != nil {
			if !errors.Is(err, herald.ErrUnavailable) {
				t.Fatalf("Append on a full disk = %v, want nil or ErrUnavailable", err)
			}
			break
		}
		acked = append(acked, u)
	}
	if err := s.Healthy(t.Context()); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Healthy on a full disk = %v, want ErrUnavailable", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, s)
	acked = append(acked, appendData(t, s, "last")...)
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, acked) {
		t.Fatalf("Replay(earliest) = %d updates, want exactly the %d acknowledged", len(got), len(acked))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, opts)
	if got := replayAll(t, s, herald.EarliestID); !sameUpdates(got, acked) {
		t.Fatalf("after a restart, Replay(earliest) = %d updates, want exactly the %d acknowledged", len(got), len(acked))
	}
}

// waitHealthy waits (up to storetest.Timeout) until s.Healthy succeeds.
func waitHealthy(t *testing.T, s *bolt.Store) {
	t.Helper()
	deadline := time.Now().Add(storetest.Timeout)
	for {
		err := s.Healthy(t.Context())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Healthy = %v %v later, want it to recover by itself", err, storetest.Timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
