package hub

import "math"

// maxSubscribersFor is the subscriber limit that leaves room, within a limit
// of nofile open files, for everything that is not a subscriber.
func maxSubscribersFor(nofile uint64) int {
	if nofile > math.MaxInt32 {
		nofile = math.MaxInt32
	}
	reserve := min(max(nofile/10, 64), 10_000)
	if nofile <= reserve {
		return 1
	}
	return int(nofile - reserve)
}
