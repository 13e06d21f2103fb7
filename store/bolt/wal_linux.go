package bolt

import (
	"os"
	"syscall"
)

// datasync flushes f's data and the metadata needed to read it back, not
// its timestamps.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// preallocate gives f size bytes of zeros on disk, so that appends
// overwrite allocated blocks and their syncs need not update the file size.
// A file system that cannot preallocate gets a plain, growing file.
func preallocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if err == syscall.EOPNOTSUPP || err == syscall.ENOSYS {
		return nil
	}
	return err
}
