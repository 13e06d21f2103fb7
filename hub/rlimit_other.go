//go:build !unix

package hub

// OpenFileLimit returns 0: the process's limit of open files cannot be read
// here.
func OpenFileLimit() int { return 0 }
