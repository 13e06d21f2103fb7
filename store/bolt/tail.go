package bolt

import (
	"sync"

	"github.com/herald-sse/herald"
)

// tail holds the updates that are durable in the write-ahead log but not yet
// in herald.db, in Seq order, so that Replay and Last see every acknowledged
// update. The committer adds to its end; the applier removes from its front
// once a herald.db transaction holding them has committed, so an update is
// always in the tail, in herald.db, or both.
type tail struct {
	mu      sync.Mutex
	cond    *sync.Cond // broadcast when the applier has made an attempt
	ents    []entry    // ents[off:] are held
	off     int
	started uint64            // the applier's attempts started
	failed  uint64            // the number of its latest attempt that failed
	ids     map[string]uint64 // publisher-chosen id -> Seq of its use in ents
}

// entry is one update of the tail.
type entry struct {
	u      herald.Update // as stored
	rec    []byte        // its record (record.go); never modified
	custom bool          // u.ID was chosen by the publisher
}

func newTail() *tail {
	t := &tail{ids: make(map[string]uint64)}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// push adds es, which follow the tail's last Seq, and returns how many
// updates the tail holds now.
func (t *tail) push(es []entry) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.off > 0 && t.off >= len(t.ents)/2 { // compact: amortised O(1)
		n := copy(t.ents, t.ents[t.off:])
		clear(t.ents[n:])
		t.ents, t.off = t.ents[:n], 0
	}
	t.ents = append(t.ents, es...)
	for _, e := range es {
		if e.custom {
			t.ids[e.u.ID] = e.u.Seq
		}
	}
	return len(t.ents) - t.off
}

// len returns how many updates the tail holds.
func (t *tail) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ents) - t.off
}

// front returns a copy of up to max entries from the front.
func (t *tail) front(max int) []entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	held := t.ents[t.off:]
	return append([]entry(nil), held[:min(max, len(held))]...)
}

// drop removes the n entries at the front (herald.db now holds them) and
// wakes whoever waits for the applier.
func (t *tail) drop(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := t.off; i < t.off+n; i++ {
		e := &t.ents[i]
		if e.custom && t.ids[e.u.ID] == e.u.Seq {
			delete(t.ids, e.u.ID)
		}
		*e = entry{}
	}
	t.off += n
	if t.off == len(t.ents) {
		t.ents, t.off = t.ents[:0], 0
	}
	t.cond.Broadcast()
}

// begin numbers an attempt of the applier that starts now.
func (t *tail) begin() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started++
	return t.started
}

// attemptFailed records that the applier's attempt n failed and wakes
// whoever waits for the applier.
func (t *tail) attemptFailed(n uint64) {
	t.mu.Lock()
	t.failed = max(t.failed, n)
	t.cond.Broadcast()
	t.mu.Unlock()
}

// waitBelow calls kick (which must not block), then waits until the tail
// holds at most n updates or an attempt of the applier started after kick
// failed: a failure of an attempt made before the call, when the disk may
// still have been full, does not end the wait.
func (t *tail) waitBelow(n int, kick func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	from := t.started
	kick()
	for len(t.ents)-t.off > n && t.failed <= from {
		t.cond.Wait()
	}
}

// bounds returns the first and last Seq held (ok false when empty).
func (t *tail) bounds() (first, last uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.off == len(t.ents) {
		return 0, 0, false
	}
	return t.ents[t.off].u.Seq, t.ents[len(t.ents)-1].u.Seq, true
}

// id returns the Seq of the update with a publisher-chosen id in the tail.
func (t *tail) id(id string) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	seq, ok := t.ids[id]
	return seq, ok
}

// at returns the update at seq, if the tail holds it.
func (t *tail) at(seq uint64) (herald.Update, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	held := t.ents[t.off:]
	if len(held) == 0 || seq < held[0].u.Seq || seq-held[0].u.Seq >= uint64(len(held)) {
		return herald.Update{}, false
	}
	return held[seq-held[0].u.Seq].u, true
}

// read appends to buf the updates from Seq next to Seq upper, at most max,
// if the tail holds next; ok is false when it does not (next is then in
// herald.db, or was removed from it by retention).
func (t *tail) read(next, upper uint64, max int, buf []herald.Update) ([]herald.Update, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	held := t.ents[t.off:]
	if len(held) == 0 || next < held[0].u.Seq {
		return buf, false
	}
	for i := next - held[0].u.Seq; i < uint64(len(held)) && held[i].u.Seq <= upper && max > 0; i, max = i+1, max-1 {
		buf = append(buf, held[i].u)
	}
	return buf, true
}
