package main

import (
	"fmt"
	"os"
	"syscall"
)

// durableLog is the least a server can do to make each request durable
// before answering it (scenario E): requests queue for one committer
// goroutine, which writes every request queued so far with one pwrite to a
// preallocated, zero-filled file and makes it durable with one fdatasync
// (group commit), then answers them all. No framing, checksums, records
// or index: only the bytes and the sync.
type durableLog struct {
	f    *os.File
	reqs chan chan error
	rec  []byte // what each request writes
}

// logSize is the preallocated size of the log; writes wrap around in it.
const logSize = 64 << 20

func openDurableLog(recSize int) (*durableLog, error) {
	f, err := os.CreateTemp("", "floor-durable-*.log")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // gone when closed
	zeros := make([]byte, 1<<20)
	for off := 0; off < logSize; off += len(zeros) {
		if _, err := f.Write(zeros); err != nil {
			f.Close()
			return nil, fmt.Errorf("preallocating the log: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	l := &durableLog{f: f, reqs: make(chan chan error, 1024), rec: make([]byte, recSize)}
	go l.run()
	return l, nil
}

// commit returns once a request is durable; done is the caller's reusable
// channel (buffered, capacity 1).
func (l *durableLog) commit(done chan error) error {
	l.reqs <- done
	return <-done
}

func (l *durableLog) run() {
	buf := make([]byte, 0, 1<<20)
	var off int64
	batch := make([]chan error, 0, 1024)
	for first := range l.reqs {
		batch = append(batch[:0], first)
		for drained := false; !drained; {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					drained = true
					break
				}
				batch = append(batch, r)
			default:
				drained = true
			}
		}
		buf = buf[:0]
		for range batch {
			buf = append(buf, l.rec...)
		}
		if off+int64(len(buf)) > logSize {
			off = 0
		}
		_, err := l.f.WriteAt(buf, off)
		off += int64(len(buf))
		if err == nil {
			err = syscall.Fdatasync(int(l.f.Fd()))
		}
		for _, d := range batch {
			d <- err
		}
	}
}

// close stops the committer once no commit is in flight.
func (l *durableLog) close() {
	close(l.reqs)
	l.f.Close()
}
