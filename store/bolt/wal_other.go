//go:build !linux

package bolt

import "os"

// datasync flushes f's data to stable storage.
func datasync(f *os.File) error { return f.Sync() }

// preallocate does nothing where Herald has no portable way to reserve space.
func preallocate(*os.File, int64) error { return nil }
