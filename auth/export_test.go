package auth

import "time"

// SetKeySetClock replaces the clock a KeySet's rate limit reads, so that
// tests step time instead of sleeping.
func SetKeySetClock(ks *KeySet, now func() time.Time) {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	ks.now = now
}
