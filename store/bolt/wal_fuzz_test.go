package bolt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/herald-sse/herald"
)

// FuzzWALRead feeds arbitrary bytes after a valid header, and arbitrary
// headers, to the log reader: it must never panic, return only contiguous
// frames that lie inside the file and end with a complete batch (never half
// of one), and refuse a bad header with ErrInvalid.
func FuzzWALRead(f *testing.F) {
	const instance = "abcdefghij"
	// Seeds: a real log of three single frames then a batch of three, torn
	// and flipped variants.
	w := &wal{instance: instance, gen: 1}
	var log []byte
	for seq := uint64(7); seq < 13; seq++ {
		u := herald.Update{Topics: []string{"t"}, Data: "payload"}
		var start int
		log, start = beginFrame(log)
		log = appendRecord(log, &u, false)
		w.sealFrame(log[start:], seq, seq == 10 || seq == 11)
	}
	f.Add(false, log)
	f.Add(false, log[:len(log)-3])
	f.Add(false, log[:len(log)*4/6])
	flipped := bytes.Clone(log)
	flipped[20] ^= 1
	f.Add(false, flipped)
	flipped = bytes.Clone(log)
	flipped[len(log)-20] ^= 1
	f.Add(false, flipped)
	f.Add(true, []byte("HRLDWAL1 not a header"))
	f.Fuzz(func(t *testing.T, rawHeader bool, body []byte) {
		dir := t.TempDir()
		content := body
		if !rawHeader {
			content = append(walHeader(instance, 1), body...)
		}
		path := filepath.Join(dir, WALName)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		w, frames, err := openWAL(dir, instance, 0)
		if err != nil {
			if !rawHeader {
				t.Fatalf("a valid header was refused: %v", err)
			}
			if !errors.Is(err, herald.ErrInvalid) {
				t.Fatalf("a bad header gave %v, want ErrInvalid", err)
			}
			return
		}
		defer w.close()
		off := int64(walHeaderSize)
		for i, fr := range frames {
			if i > 0 && fr.seq != frames[i-1].seq+1 {
				t.Fatalf("frame %d has seq %d after %d", i, fr.seq, frames[i-1].seq)
			}
			off += frameHeader + int64(len(fr.rec))
		}
		if off != w.off || w.off > int64(len(content)) {
			t.Fatalf("next frame at %d; frames end at %d, file is %d bytes", w.off, off, len(content))
		}
		if n := len(frames); n > 0 && frames[n-1].more {
			t.Fatalf("the last of %d frames read is continued: half a batch", n)
		}
		if !rawHeader && bytes.HasPrefix(body, log) && len(frames) < 6 {
			t.Fatalf("a log starting with 6 valid frames (3 single, a batch of 3) gave %d", len(frames))
		}
		if !rawHeader && !bytes.HasPrefix(body, log) && len(body) >= len(log) && len(frames) > 3 && bytes.HasPrefix(body, log[:len(log)*3/6]) {
			// The batch of 3 is damaged somewhere: none of it may be read.
			t.Fatalf("a log whose batch of 3 is damaged gave %d frames", len(frames))
		}
	})
}
