package memory

import "github.com/herald-sse/herald"

// chunkLen is the number of updates in one chunk of a history.
const chunkLen = 1024

// history is the updates a Store holds, oldest first, in fixed-size chunks:
// appending never copies what is held (a single slice would be copied
// whole, under the store's lock, each time it grows or is compacted: tens
// of megabytes for a long history, in one move the garbage collector must
// wait for), and dropping the oldest frees a chunk once it is empty.
type history struct {
	chunks [][]herald.Update // chunks[0][head:], chunks[1], …: the updates held
	head   int               // the index in chunks[0] of the oldest update held
	n      int               // how many updates are held
	spare  []herald.Update   // an emptied chunk, kept for the next one needed
}

// len is how many updates h holds.
func (h *history) len() int { return h.n }

// at returns the i-th oldest update held, from 0.
func (h *history) at(i int) *herald.Update {
	j := h.head + i
	return &h.chunks[j/chunkLen][j%chunkLen]
}

// push adds u as the newest update.
func (h *history) push(u herald.Update) {
	if k := len(h.chunks); k == 0 || len(h.chunks[k-1]) == chunkLen {
		c := h.spare
		if c == nil {
			c = make([]herald.Update, 0, chunkLen)
		}
		h.spare = nil
		h.chunks = append(h.chunks, c)
	}
	k := len(h.chunks) - 1
	h.chunks[k] = append(h.chunks[k], u)
	h.n++
}

// pop drops the oldest update held, if any.
func (h *history) pop() {
	if h.n == 0 {
		return
	}
	h.chunks[0][h.head] = herald.Update{} // release its strings
	h.head++
	h.n--
	if h.head == chunkLen || h.n == 0 {
		h.spare = h.chunks[0][:0] // its updates were cleared as they were dropped
		h.chunks[0] = nil
		h.chunks = h.chunks[1:]
		h.head = 0
		if h.n == 0 {
			h.chunks = nil
		} else if cap(h.chunks) > 2*len(h.chunks)+16 {
			// The chunk list only moves forward: copy it now and then, so
			// that its backing array does not grow without bound (it holds
			// a pointer per chunk: a copy is cheap).
			h.chunks = append([][]herald.Update(nil), h.chunks...)
		}
	}
}
