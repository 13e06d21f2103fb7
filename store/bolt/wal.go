package bolt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/herald-sse/herald"
)

// WALName is the name of the write-ahead log in the directory given to Open.
const WALName = "herald.wal"

// The write-ahead log makes an Append durable with one write and one
// fdatasync of a preallocated file, instead of a bbolt commit (which writes
// pages and syncs twice). Updates reach herald.db shortly after, in large
// transactions; the log only holds what herald.db may not have yet.
//
// Layout:
//
//	header  magic     8 bytes  "HRLDWAL1"
//	        gen       uint64   generation, incremented by every reset
//	        instance  16 bytes the history's instance id, zero-padded
//	        crc       uint32   CRC-32C of the 32 bytes above
//	        pad       4 bytes
//	frames  len       uint32   record length (> 0); its top bit, "continued",
//	                           says that the next frame belongs to the same
//	                           batch (AppendBatch)
//	        crc       uint32   CRC-32C of gen, len, seq and record
//	        seq       uint64
//	        record    len & 0x7fffffff bytes (record.go)
//
// All integers are big-endian. A frame belongs to the log only if its CRC,
// which covers the header's generation, matches and its Seq follows the
// previous frame's: reading stops at the first frame that does not, which is
// where the last write ended (a crash can tear only the frames of the last,
// unacknowledged write). The frames of a batch count only together: a batch
// whose last frame (the one not continued) is missing is dropped whole, so a
// torn write never leaves half a batch. A reset writes a header with the next
// generation, which turns every older frame into garbage; the log is reset
// only when herald.db holds everything in it, and at every Open.
const (
	walMagic      = "HRLDWAL1"
	walHeaderSize = 40
	frameHeader   = 16
	// continued is the bit of a frame's length that says the next frame
	// belongs to the same batch.
	continued = 1 << 31
	// walLimit is the log size past which the committer resets it (once
	// herald.db has caught up), and the size preallocated when it is made.
	walLimit = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// wal is the write-ahead log file. Only the committer writes it after Open.
//
// A write, sync or reset that fails leaves the file in a state the wal does
// not know (part of the frames may be on disk, the header may be either
// generation): every later write or reset first heals it, making the file
// what the wal says again, so that a failure never sticks until a restart
// and a later, shorter write can never be followed on disk by frames of the
// failed one that a recovery would take for acknowledged updates.
type wal struct {
	f        *os.File
	path     string
	instance string
	gen      uint64
	off      int64 // where the next frame goes
	size     int64 // the file's size: writing below it needs no new space

	dirty  int64 // a write failed: bytes from off it may have left, to zero
	header bool  // a reset failed: the header of gen must be written again
}

// walFrame is one update read back from the log.
type walFrame struct {
	seq  uint64
	rec  []byte
	more bool // the next frame belongs to the same batch
}

// openWAL opens the log in dir for the history instance, creating it when
// missing, and returns it with the frames it holds. A log that is not one,
// is damaged in its header, or belongs to another instance is refused,
// unmodified, with an error wrapping herald.ErrInvalid.
func openWAL(dir, instance string, prealloc int64) (*wal, []walFrame, error) {
	path := filepath.Join(dir, WALName)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createWAL(dir, path, instance, prealloc); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	w := &wal{f: f, path: path, instance: instance}
	frames, err := w.read()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return w, frames, nil
}

// createWAL makes an empty log at path, atomically, with size bytes
// preallocated (see zeroFill).
func createWAL(dir, path, instance string, size int64) error {
	f, err := os.CreateTemp(dir, WALName+".new-*")
	if err != nil {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(walHeader(instance, 1))
	if err == nil {
		err = zeroFill(f, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	return linkIntoPlace(tmp, path)
}

// walHeader returns the header of generation gen.
func walHeader(instance string, gen uint64) []byte {
	h := make([]byte, walHeaderSize)
	copy(h, walMagic)
	binary.BigEndian.PutUint64(h[8:], gen)
	copy(h[16:32], instance)
	binary.BigEndian.PutUint32(h[32:], crc32.Checksum(h[:32], castagnoli))
	return h
}

// read checks the header and returns the frames of the current generation,
// setting w.gen and w.off (just after the last valid frame).
func (w *wal) read() ([]walFrame, error) {
	refuse := func(why string, args ...any) error {
		return fmt.Errorf("bolt: open %s: %s; refusing to modify it: %w", w.path, fmt.Sprintf(why, args...), herald.ErrInvalid)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(w.f, 0, 1<<62), 1<<20)
	h := make([]byte, walHeaderSize)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, refuse("not a Herald write-ahead log (%d-byte header expected: %v)", walHeaderSize, err)
	}
	if string(h[:8]) != walMagic {
		return nil, refuse("not a Herald write-ahead log (magic %q)", h[:8])
	}
	if crc32.Checksum(h[:32], castagnoli) != binary.BigEndian.Uint32(h[32:]) {
		return nil, refuse("damaged write-ahead log header (checksum mismatch)")
	}
	if inst := string(bytes.TrimRight(h[16:32], "\x00")); inst != w.instance {
		return nil, refuse("the write-ahead log belongs to history instance %q, %s is instance %q (move one of them away)", inst, FileName, w.instance)
	}
	w.gen = binary.BigEndian.Uint64(h[8:])
	w.off = walHeaderSize
	fi, err := w.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", w.path, err)
	}
	w.size = fi.Size()

	var frames []walFrame
	fh := make([]byte, frameHeader)
	end := w.off // where the frames read so far end; w.off where the batches do
	for {
		if _, err := io.ReadFull(r, fh); err != nil {
			break // the end of the file
		}
		word := binary.BigEndian.Uint32(fh)
		n, more := word&^continued, word&continued != 0
		seq := binary.BigEndian.Uint64(fh[8:])
		if n == 0 || int64(n) > fi.Size()-end-frameHeader || (len(frames) > 0 && seq != frames[len(frames)-1].seq+1) {
			break
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			break // torn
		}
		if frameCRC(w.gen, fh, rec) != binary.BigEndian.Uint32(fh[4:]) {
			break // torn, or left over from an older generation
		}
		frames = append(frames, walFrame{seq: seq, rec: rec, more: more})
		end += frameHeader + int64(n)
		if !more {
			w.off = end // a batch (or a single update) is complete
		}
	}
	for len(frames) > 0 && frames[len(frames)-1].more {
		frames = frames[:len(frames)-1] // the torn rest of a batch
	}
	return frames, nil
}

// frameCRC is the checksum of a frame whose header (with any crc) is fh.
func frameCRC(gen uint64, fh, rec []byte) uint32 {
	var g [8]byte
	binary.BigEndian.PutUint64(g[:], gen)
	c := crc32.Update(0, castagnoli, g[:])
	c = crc32.Update(c, castagnoli, fh[:4])
	c = crc32.Update(c, castagnoli, fh[8:frameHeader])
	return crc32.Update(c, castagnoli, rec)
}

// beginFrame appends room for a frame header to b; append the record next,
// then seal the frame with sealFrame(b[start:], seq, more).
func beginFrame(b []byte) (_ []byte, start int) {
	return append(b, make([]byte, frameHeader)...), len(b)
}

// sealFrame fills in the header of frame (header and record) at seq; more
// says that the next frame belongs to the same batch.
func (w *wal) sealFrame(frame []byte, seq uint64, more bool) {
	word := uint32(len(frame) - frameHeader)
	if more {
		word |= continued
	}
	binary.BigEndian.PutUint32(frame, word)
	binary.BigEndian.PutUint64(frame[8:], seq)
	binary.BigEndian.PutUint32(frame[4:], frameCRC(w.gen, frame, frame[frameHeader:]))
}

// write makes frames (from beginFrame and sealFrame) durable at the end of
// the log, healing the file first if an earlier write failed.
func (w *wal) write(frames []byte) error {
	if err := w.heal(); err != nil {
		return err
	}
	_, err := w.f.WriteAt(frames, w.off)
	if err != nil {
		err = fmt.Errorf("write %s: %w", w.path, err)
	} else if err = datasync(w.f); err != nil {
		err = fmt.Errorf("sync %s: %w", w.path, err)
	}
	if err != nil {
		w.dirty = int64(len(frames))
		return err
	}
	w.off += int64(len(frames))
	w.size = max(w.size, w.off)
	return nil
}

// fits reports whether n more bytes of frames fit in the log without a
// reset: below limit, and in the file as it is (no new space needed on a
// full disk). An empty log takes anything (a batch larger than the log
// grows it).
func (w *wal) fits(n int, limit int64) bool {
	end := w.off + int64(n)
	return w.off == walHeaderSize || end <= limit && end <= w.size
}

// reset empties the log by starting the next generation. Call it only when
// herald.db holds every frame. If it fails, the next write or reset heals
// the header first.
func (w *wal) reset() error {
	if err := w.heal(); err != nil {
		return err
	}
	w.gen++
	w.off, w.dirty = walHeaderSize, 0
	if err := w.writeHeader(); err != nil {
		w.header = true
		return fmt.Errorf("reset %s: %w", w.path, err)
	}
	return nil
}

func (w *wal) writeHeader() error {
	if _, err := w.f.WriteAt(walHeader(w.instance, w.gen), 0); err != nil {
		return err
	}
	return datasync(w.f)
}

// failed reports whether the file needs healing.
func (w *wal) failed() bool { return w.dirty > 0 || w.header }

// heal makes the file what w says after a failed write or reset: the header
// of generation gen, and zeros where the failed write may have left frames
// (up to the file's size as it was: anything the write added past it is cut
// off), durably. It does nothing when nothing failed. Zeros end the frames
// a recovery reads, and overwriting allocated blocks needs no new space.
func (w *wal) heal() error {
	if !w.failed() {
		return nil
	}
	if w.header {
		if _, err := w.f.WriteAt(walHeader(w.instance, w.gen), 0); err != nil {
			return fmt.Errorf("heal %s: %w", w.path, err)
		}
	}
	if w.dirty > 0 {
		end := min(w.off+w.dirty, w.size)
		if err := zeroRange(w.f, w.off, end); err != nil {
			return fmt.Errorf("heal %s: %w", w.path, err)
		}
		if w.off+w.dirty > w.size {
			if err := w.f.Truncate(w.size); err != nil {
				return fmt.Errorf("heal %s: %w", w.path, err)
			}
		}
	}
	if err := datasync(w.f); err != nil {
		return fmt.Errorf("heal %s: %w", w.path, err)
	}
	w.dirty, w.header = 0, false
	return nil
}

func (w *wal) close() error { return w.f.Close() }

// zeroFill writes zeros up to size. Appends then overwrite blocks that are
// allocated and written, so that their syncs need no file-system journal
// commit (measured: a fifth faster than fallocate's unwritten blocks and
// half the time of syncs that grow the file), and need no new space on a
// full disk.
func zeroFill(f *os.File, size int64) error {
	return zeroRange(f, walHeaderSize, size)
}

// zeroRange writes zeros from off up to end.
func zeroRange(f *os.File, off, end int64) error {
	zeros := make([]byte, min(1<<20, max(end-off, 0)))
	for ; off < end; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), end-off)], off); err != nil {
			return err
		}
	}
	return nil
}
