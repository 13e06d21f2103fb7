//go:build unix

package hub

import (
	"math"
	"syscall"
)

// OpenFileLimit returns the process's limit of open files (which Go raises
// to the hard limit at start), or 0 when it cannot be read.
func OpenFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return int(min(l.Cur, math.MaxInt32))
}
