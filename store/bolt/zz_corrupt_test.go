package bolt_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
)

func TestZZCorruptMiddle(t *testing.T) {
	dir := t.TempDir()
	if err := bolt.BulkLoad(dir, 3000, strings.Repeat("x", 1000)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, bolt.FileName)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	fi, _ := f.Stat()
	b := make([]byte, 64<<10)
	rand.Read(b)
	f.WriteAt(b, fi.Size()/2)
	f.Close()
	s, err := bolt.Open(dir, bolt.Options{})
	t.Logf("open: %v", err)
	if err != nil {
		return
	}
	defer s.Close()
	n := 0
	err = s.Replay(t.Context(), herald.EarliestID, func(herald.Update) error { n++; return nil })
	t.Logf("replay: %d %v", n, err)
}
