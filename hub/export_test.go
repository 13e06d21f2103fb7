package hub

// SetBeforeLive sets a function the request goroutine calls just before it
// hands a stream over to live delivery, with the headers and any history
// sent; nil removes it. It is for tests that must act in that window.
func SetBeforeLive(h *Hub, f func()) { h.beforeLive = f }
