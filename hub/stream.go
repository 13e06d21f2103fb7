package hub

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// GapEventType is the type of the event sent first on a stream, to
// subscribers that asked for it (Subscription.GapEvent), when history does not
// hold the Last-Event-ID they resumed from: native EventSource cannot read the
// Last-Event-ID response header that says so. Its data is a JSON object:
// {"lastEventID": "<the id asked for>"}. A web app that sees it should refetch
// its state.
const GapEventType = "herald-gap"

// Subscription describes a stream to open with [Hub.ServeStream]. The
// protocol layer (package mercure) builds it from the request after
// authorizing it.
type Subscription struct {
	// ID identifies the subscriber (e.g. in subscription events). A random
	// "urn:uuid:..." is generated when empty.
	ID string
	// Selectors select the topics of the updates sent. At least one.
	Selectors []*topic.Selector
	// CanReceive reports whether the subscriber may receive a private update
	// about topics. Nil: public updates only.
	CanReceive func(topics []string) bool
	// Resume asks for the updates that followed LastEventID (which may be
	// herald.EarliestID) to be replayed before live ones.
	Resume      bool
	LastEventID string
	// GapEvent asks for a GapEventType event when LastEventID is not held.
	GapEvent bool
	// Expires, when set, ends the stream at that time (token expiry).
	Expires time.Time
	// Payload is carried for the subscriptions API.
	Payload json.RawMessage
	// OnOpen, when set, is called once the stream is registered.
	OnOpen func()
	// OnClose, when set, is called once when the stream has ended.
	OnClose func(CloseReason)
}

// ServeStream answers r with the event stream sub describes: headers, history
// after sub.LastEventID (when sub.Resume), then live updates until the client
// leaves, its token expires, it falls too far behind, or the hub shuts down.
// The caller has authorized the request and may have set headers (CORS) on w.
//
// For HTTP/1.x requests ServeStream takes over the connection and returns as
// soon as history is sent; the stream goes on without the request goroutine.
// For other requests it returns when the stream ends.
func (h *Hub) ServeStream(w http.ResponseWriter, r *http.Request, sub Subscription) {
	if h.closing.Load() {
		// An error status would make browsers give up for good: answer with
		// an empty stream that says when to come back (to a restarted hub or
		// another node).
		hdr := w.Header()
		hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(h.retryFrame().data)
		return
	}
	if len(sub.Selectors) == 0 {
		http.Error(w, "at least one topic selector is required", http.StatusBadRequest)
		return
	}
	if !sub.Expires.IsZero() && !time.Now().Before(sub.Expires) {
		http.Error(w, "the token has expired", http.StatusUnauthorized)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Del("Content-Length")

	s := &subscriber{
		hub:        h,
		id:         sub.ID,
		selectors:  sub.Selectors,
		canReceive: sub.CanReceive,
		payload:    sub.Payload,
		onClose:    sub.OnClose,
		replaying:  true,
		done:       make(chan struct{}),
	}
	if s.id == "" {
		s.id = NewID()
	}
	var cs *connSink
	if !h.opts.NoHijack {
		cs, s.hijacked = hijack(w, r, h.opts.WriteTimeout)
	}
	if s.hijacked {
		s.sink = cs
	} else {
		s.sink = &writerSink{w: w, rc: http.NewResponseController(w), timeout: h.opts.WriteTimeout}
	}
	s.lastWrite.Store(time.Now().UnixNano())

	// Register before reading history, so nothing published meanwhile is
	// missed; what is both replayed and queued is dropped by Seq below.
	h.subscribers.Add(1)
	h.metrics.SubscriberAdded()
	h.index.add(s)
	if !sub.Expires.IsZero() {
		s.mu.Lock()
		s.expiry = time.AfterFunc(time.Until(sub.Expires), func() { s.close(ReasonExpired) })
		s.mu.Unlock()
	}
	// A fresh stream starts after the newest update: read it only now that
	// the stream is registered, so that it receives every update after it
	// and nothing before it, even when the store's live feed lags behind;
	// and before OnOpen, whose own publications (greetings, subscription
	// events) must reach it.
	last := ""
	if !sub.Resume {
		id, seq, err := h.store.Last(r.Context())
		if err != nil {
			h.log.Warn("reading the newest event id failed", "err", err)
		} else {
			last = id
			s.raiseMin(seq)
		}
	}
	if sub.OnOpen != nil {
		sub.OnOpen()
	}
	if h.closing.Load() { // raced with CloseStreams
		s.close(ReasonShutdown)
	}

	if s.hijacked {
		go s.readUntilClosed(cs)
	}

	if sub.Resume {
		// Replay under a context that ends when the stream does (the
		// request's context ends with the handler when the connection is
		// taken over) or when the hub closes.
		parent := r.Context()
		if s.hijacked {
			parent = h.ctx
		}
		ctx, cancel := context.WithCancel(parent)
		s.mu.Lock()
		s.stopReplay = cancel
		closed := s.closed
		s.mu.Unlock()
		if closed {
			cancel()
		}
		h.resume(ctx, s, hdr, sub)
		s.mu.Lock()
		s.stopReplay = nil
		s.mu.Unlock()
		cancel()
	} else {
		if last == "" {
			last = herald.EarliestID
		}
		hdr.Set("Last-Event-ID", last)
		if err := s.sink.writeHeader(hdr); err != nil {
			s.close(ReasonClient)
		}
	}
	s.goLive()

	if s.hijacked {
		return
	}
	select {
	case <-s.done:
	case <-r.Context().Done():
		s.close(ReasonClient)
		<-s.done
	}
}

// resume sends the headers and the history that follows sub.LastEventID,
// and lines the live queue up with it: once resume returns, s receives live
// exactly the updates that follow what it was sent, whatever the lag of the
// store's live feed.
func (h *Hub) resume(ctx context.Context, s *subscriber, hdr http.Header, sub Subscription) {
	headerSent := false
	sendHeader := func(lastEventID string) error {
		if headerSent {
			return nil
		}
		headerSent = true
		hdr.Set("Last-Event-ID", lastEventID)
		return s.sink.writeHeader(hdr)
	}
	var batch []*frame
	size, total := 0, 0
	// The header names the event that precedes the first one sent: the one
	// asked for, or none ("earliest").
	write := func() error {
		if err := sendHeader(sub.LastEventID); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		err := s.sink.write(batch)
		s.lastWrite.Store(time.Now().UnixNano())
		total += len(batch)
		clear(batch)
		batch, size = batch[:0], 0
		return err
	}
	errStop := errors.New("stream closed")
	after := sub.LastEventID
	// lined is true once s's minimum Seq is known: the Seq of the last
	// update replayed, or of the update resumed from.
	lined := after == herald.EarliestID
	for pass := 0; ; pass++ {
		var lastSeq uint64
		yielded := false
		err := h.store.Replay(ctx, after, func(u herald.Update) error {
			yielded = true
			lastSeq, after = u.Seq, u.ID
			if !s.wants(u.Topics, u.Private) {
				return nil
			}
			f, err := encode(&u)
			if err != nil {
				return nil
			}
			batch = append(batch, f)
			size += len(f.data)
			if size >= maxCopy || len(batch) >= 512 {
				if err := write(); err != nil {
					return err
				}
				s.mu.Lock()
				stop := s.closed || s.ending
				s.mu.Unlock()
				if stop {
					return errStop
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, herald.ErrNotHeld) && pass == 0:
			// Not held at all (nothing sent yet: the header says
			// "earliest"), or retention removed updates while they were
			// being read (send what was read, then signal the gap).
			h.metrics.HistoryGap()
			if yielded {
				err = write()
			} else {
				lined = true // nothing to line up with: live starts now
				err = sendHeader(herald.EarliestID)
			}
			if err == nil && sub.GapEvent {
				data, _ := json.Marshal(map[string]string{"lastEventID": sub.LastEventID})
				gap := &frame{data: fmt.Appendf(nil, "event: %s\ndata: %s\n\n", GapEventType, data)}
				err = s.sink.write([]*frame{gap})
			}
		case err == nil:
			err = write()
		}
		if errors.Is(err, errStop) {
			break // closed (nothing more to do) or shutting down (goLive ends it)
		}
		if err != nil {
			if !headerSent && ctx.Err() == nil {
				h.log.Warn("replaying history failed", "err", err)
			}
			if !headerSent {
				// Nothing was written yet: answer with an error rather than
				// an empty stream, which would look like success.
				status, msg := http.StatusInternalServerError, "reading history failed"
				if errors.Is(err, herald.ErrUnavailable) {
					status, msg = http.StatusServiceUnavailable, "history is unavailable: "+err.Error()
				}
				headerSent = true
				s.sink.fail(status, msg)
			}
			s.close(ReasonReplay)
			break
		}
		if yielded {
			s.raiseMin(lastSeq)
			lined = true
		} else if !lined {
			// Nothing follows the id asked for; if it is still the newest,
			// its Seq is where live delivery starts. Otherwise updates came
			// in meanwhile: read them in another pass.
			id, seq, err := h.store.Last(ctx)
			if err == nil && id != after {
				// Last names a position, after may be a publisher's id:
				// compare their Seqs.
				var at herald.Update
				if at, err = h.store.Lookup(ctx, after); err == nil && at.Seq == seq {
					id = after
				}
			}
			switch {
			case err != nil:
				lined = true // duplicates are possible, losses are not
			case id == after:
				s.raiseMin(seq)
				lined = true
			}
		}
		s.mu.Lock()
		again := !lined || s.overflow
		if !again || s.closed || pass+1 >= h.opts.MaxReplays {
			overflow := s.overflow
			s.mu.Unlock()
			if overflow {
				s.close(ReasonSlow)
			}
			break
		}
		s.overflow = false
		s.mu.Unlock()
	}
	if total > 0 {
		h.metrics.Replayed(total)
		h.metrics.Delivered(total)
	}
}

// goLive hands the stream from the request goroutine to the writer.
func (s *subscriber) goLive() {
	s.mu.Lock()
	s.replaying = false
	closed := s.closed
	start := !closed && len(s.queue) > 0
	if start {
		s.flushing = true
	}
	s.mu.Unlock()
	switch {
	case closed:
		s.release()
	case start:
		go s.flush()
	}
}

// readUntilClosed notices when the client goes away: a subscriber sends
// nothing after its request, so any read result ends the stream.
func (s *subscriber) readUntilClosed(c *connSink) {
	var b [1]byte
	for {
		if _, err := c.conn.Read(b[:]); err != nil {
			s.close(ReasonClient)
			return
		}
	}
}

// NewID returns a random subscriber id, "urn:uuid:..." (a version 4 UUID),
// as Subscription.ID takes.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
