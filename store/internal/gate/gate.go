// Package gate admits calls into a store until it closes, and lets the
// store's Close wait for the calls it admitted, so that Close never races
// an Append in flight (the bolt, Redis and NATS stores).
package gate

import "sync"

// Gate admits calls until Close. The zero value is open. It is safe for
// concurrent use.
type Gate struct {
	mu     sync.RWMutex // guards closed against calls.Add
	closed bool
	calls  sync.WaitGroup
}

// Enter admits a call and reports true, or reports false once the gate is
// closed. An admitted call must call Leave when it is done.
func (g *Gate) Enter() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return false
	}
	g.calls.Add(1)
	return true
}

// Leave ends a call that Enter admitted.
func (g *Gate) Leave() { g.calls.Done() }

// Closed reports whether Close was called.
func (g *Gate) Closed() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.closed
}

// Close refuses every later call and waits until the admitted ones have
// left. Only the first call waits and reports true; later ones return false
// at once.
func (g *Gate) Close() bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.closed = true
	g.mu.Unlock()
	g.calls.Wait()
	return true
}
