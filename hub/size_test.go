package hub

import (
	"testing"
	"unsafe"
)

// TestSubscriberSize: an idle subscriber's own struct fits the 256-byte
// allocation class: it is most of what an idle subscriber costs the heap
// (scenario A of the benchmarks). What only some subscribers need belongs
// in subscriberExtra.
func TestSubscriberSize(t *testing.T) {
	if n := unsafe.Sizeof(subscriber{}); n > 256 {
		t.Errorf("subscriber is %d bytes, over the 256-byte allocation class", n)
	}
}
