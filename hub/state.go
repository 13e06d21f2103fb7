package hub

// A subscriber's lifecycle is two small values, changed only by the methods
// of state below, under the subscriber's mutex:
//
//   - owner: which goroutine may use the stream's sink. Exactly one at a
//     time: the request goroutine first (headers, history), then a writer
//     goroutine that exists only while frames are queued. An idle live
//     stream is owned by nobody, so it costs no goroutine.
//   - phase: how far the stream is from its end. It only moves forward:
//     open → (ending →) closed → released.
//
// The transitions, and the work each tells its caller to do:
//
//	from (owner, phase)       event       to                      caller must
//	request, open|ending      live        writer (queue or ending) start a writer
//	                                      nobody  (nothing queued)
//	request, closed           live        nobody, released        release
//	nobody, open|ending       queued      writer                  start a writer
//	writer, open              drained     nobody
//	writer, ending            drained     nobody, released        end the stream, release
//	writer, closed            drained     nobody, released        release
//	nobody, open              end         writer, ending          start a writer
//	request|writer, open      end         ending
//	any, open|ending          close       closed (owned)          abort the sink
//	                                      released (not owned)    abort the sink, release
//
// Release (counters, the done channel, OnClose) thus happens exactly once,
// when the stream has ended and no goroutine uses its sink.

// owner is the goroutine that may use a subscriber's sink.
type owner uint8

const (
	// ownedByRequest: the request goroutine writes the headers and the
	// history. Every stream starts so.
	ownedByRequest owner = iota
	// ownedByNobody: the stream is live and nothing is queued.
	ownedByNobody
	// ownedByWriter: a writer goroutine writes what is queued.
	ownedByWriter
)

// phase is how far a stream is from its end.
type phase uint8

const (
	// phaseOpen: the stream delivers.
	phaseOpen phase = iota
	// phaseEnding: the hub shuts down; what is queued is written, then the
	// stream ends. Nothing more is queued.
	phaseEnding
	// phaseClosed: the stream ended (or is being aborted); nothing more is
	// written, and the sink's owner has yet to let go of it.
	phaseClosed
	// phaseReleased: no goroutine uses the sink; the stream is counted as
	// gone.
	phaseReleased
)

// state is a subscriber's lifecycle. The zero state is a new stream, owned
// by its request goroutine.
type state struct {
	owner  owner
	phase  phase
	reason CloseReason // why the stream ended; set when it leaves phaseOpen for good
}

// accepting reports whether frames may be queued.
func (st *state) accepting() bool { return st.phase == phaseOpen }

// replaying reports whether the request goroutine still owns the sink.
func (st *state) replaying() bool { return st.owner == ownedByRequest }

// ended reports whether the stream is closed or released.
func (st *state) ended() bool { return st.phase >= phaseClosed }

// queued records that a frame was queued. It reports whether the caller
// must start a writer.
func (st *state) queued() (startWriter bool) {
	if st.owner != ownedByNobody || st.phase >= phaseClosed {
		return false
	}
	st.owner = ownedByWriter
	return true
}

// live hands the sink over from the request goroutine, which must own it;
// pending says whether frames are queued.
func (st *state) live(pending bool) (startWriter, release bool) {
	if st.owner != ownedByRequest {
		panic("hub: live called by a goroutine that does not own the stream")
	}
	switch {
	case st.phase >= phaseClosed:
		st.owner, st.phase = ownedByNobody, phaseReleased
		return false, true
	case pending || st.phase == phaseEnding:
		st.owner = ownedByWriter
		return true, false
	default:
		st.owner = ownedByNobody
		return false, false
	}
}

// drained records that the writer, which must own the sink, found nothing
// more to write (or the stream closed) and lets go of it. end says that the
// caller must finish the stream gracefully (it was ending).
func (st *state) drained() (end, release bool) {
	if st.owner != ownedByWriter {
		panic("hub: drained called by a goroutine that does not own the stream")
	}
	st.owner = ownedByNobody
	switch st.phase {
	case phaseEnding:
		st.phase, st.reason = phaseReleased, ReasonShutdown
		return true, true
	case phaseClosed:
		st.phase = phaseReleased
		return false, true
	}
	return false, false
}

// end starts a graceful end: what is queued is written, then the stream
// ends. It reports whether the caller must start a writer to do it.
func (st *state) end() (startWriter bool) {
	if st.phase != phaseOpen {
		return false
	}
	st.phase = phaseEnding
	if st.owner == ownedByNobody {
		st.owner = ownedByWriter
		return true
	}
	return false
}

// close ends the stream now, for reason. ok is false when it had already
// ended. release says that no goroutine owns the sink, so the caller must
// release the stream itself.
func (st *state) close(reason CloseReason) (ok, release bool) {
	if st.phase >= phaseClosed {
		return false, false
	}
	st.reason = reason
	if st.owner == ownedByNobody {
		st.phase = phaseReleased
		return true, true
	}
	st.phase = phaseClosed
	return true, false
}
