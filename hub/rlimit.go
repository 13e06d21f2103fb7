package hub

// DefaultMaxSubscribers is the default of Options.MaxSubscribers: the
// process's limit of open files (OpenFileLimit) less a tenth of it (at least
// 64, at most 10,000), kept for publishers, health checks, metrics and the
// store. One subscriber holds one file descriptor (its connection). It is 0
// (no bound) when the limit cannot be read.
func DefaultMaxSubscribers() int {
	n := OpenFileLimit()
	if n <= 0 {
		return 0
	}
	return maxSubscribersFor(n)
}

// maxSubscribersFor is the subscriber limit that leaves room, within a limit
// of nofile open files, for everything that is not a subscriber.
func maxSubscribersFor(nofile int) int {
	reserve := min(max(nofile/10, 64), 10_000)
	if nofile <= reserve {
		return 1
	}
	return nofile - reserve
}
