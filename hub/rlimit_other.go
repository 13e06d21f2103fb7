//go:build !unix

package hub

// DefaultMaxSubscribers is the default of Options.MaxSubscribers: 0 (no
// bound) where the process's limit of open files cannot be read.
func DefaultMaxSubscribers() int { return 0 }
