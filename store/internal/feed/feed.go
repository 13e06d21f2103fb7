// Package feed is the live tail shared by Herald's stores: an append-only chain
// of batches that any number of watchers follow at their own pace.
//
// Publishing never waits for a watcher: a batch is linked into the chain and
// each watcher's goroutine walks the chain, so a slow watcher only delays
// itself (it keeps the batches it has not seen yet reachable).
package feed

import (
	"context"
	"sync"

	"github.com/herald-sse/herald"
)

// node is one link of the chain. ready is closed once batch and next are set;
// both are immutable afterwards.
type node struct {
	ready chan struct{}
	batch []herald.Update
	next  *node
}

// Feed fans batches of updates out to watchers. The zero value is not usable;
// call New.
type Feed struct {
	mu     sync.Mutex
	tail   *node // the node the next Publish fills
	closed chan struct{}
	once   sync.Once
}

// New returns an open Feed.
func New() *Feed {
	return &Feed{tail: &node{ready: make(chan struct{})}, closed: make(chan struct{})}
}

// Publish passes batch to every current watcher. Callers must publish batches
// in Seq order and must not modify batch afterwards. Publish never blocks on
// a watcher. Publishing an empty batch, or after Close, does nothing.
func (f *Feed) Publish(batch []herald.Update) {
	if len(batch) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
		return
	default:
	}
	n := f.tail
	n.batch = batch
	n.next = &node{ready: make(chan struct{})}
	f.tail = n.next
	close(n.ready)
}

// maxGather bounds how many updates Watch hands over in one call.
const maxGather = 4096

// gather returns the batch of n, a ready node, joined with the batches of the
// ready nodes that follow it (up to maxGather updates), and the first node
// not taken. A watcher that fell behind thus catches up in one call, which
// lets the hub write what piled up for a subscriber in one write.
func gather(n *node) ([]herald.Update, *node) {
	batch := n.batch
	n = n.next
	copied := false
	for len(batch) < maxGather {
		select {
		case <-n.ready:
		default:
			return batch, n
		}
		if !copied { // a published batch is shared: never append to it
			batch = append(make([]herald.Update, 0, 2*(len(batch)+len(n.batch))), batch...)
			copied = true
		}
		batch = append(batch, n.batch...)
		n = n.next
	}
	return batch, n
}

// Watch calls fn, from the calling goroutine, with every batch published
// after Watch was called, in order, until ctx is done or the feed is closed.
// Its first call to fn, once the watcher is in place, has an empty batch (as
// herald.Store.Watch promises); on a closed feed, or with ctx already done,
// Watch returns nil without calling fn. When the feed is closed, Watch first
// delivers the batches already published and then returns nil. It returns
// nil when ctx is done.
func (f *Feed) Watch(ctx context.Context, fn func([]herald.Update)) error {
	f.mu.Lock()
	n := f.tail
	f.mu.Unlock()
	select {
	case <-f.closed:
		return nil
	default:
	}
	if ctx.Err() != nil {
		return nil
	}
	fn(nil) // registered: everything published from now on reaches fn
	for {
		select {
		case <-n.ready:
			if ctx.Err() != nil {
				return nil
			}
			var batch []herald.Update
			batch, n = gather(n)
			fn(batch)
		case <-ctx.Done():
			return nil
		case <-f.closed:
			for {
				select {
				case <-n.ready:
					if ctx.Err() != nil {
						return nil
					}
					fn(n.batch)
					n = n.next
				default:
					return nil
				}
			}
		}
	}
}

// Close ends every Watch (after it has delivered what was published) and
// makes later Watch calls return at once. It is safe to call more than once.
func (f *Feed) Close() {
	f.once.Do(func() {
		f.mu.Lock()
		close(f.closed)
		f.mu.Unlock()
	})
}
