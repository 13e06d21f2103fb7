//go:build unix

package hub

import "syscall"

// DefaultMaxSubscribers is the default of Options.MaxSubscribers: the
// process's limit of open files (which Go raises to the hard limit at start),
// less a tenth of it (at least 64, at most 10,000) kept for publishers, health
// checks, metrics and the store. One subscriber holds one file descriptor
// (its connection). It is 0 (no bound) when the limit cannot be read.
func DefaultMaxSubscribers() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur == 0 {
		return 0
	}
	return maxSubscribersFor(l.Cur)
}
