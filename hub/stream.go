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
	"github.com/herald-sse/herald/internal/httperr"
	"github.com/herald-sse/herald/topic"
)

// GapEventType is the type of the event sent first on a stream, to
// subscribers that asked for it (Subscription.GapEvent), when history does not
// hold the Last-Event-ID they resumed from: native EventSource cannot read the
// Last-Event-ID response header that says so. Its data is a JSON object:
// {"lastEventID": "<the id asked for>"}. A web app that sees it should refetch
// its state.
const GapEventType = "herald-gap"

// LiveEventType is the type of the event sent, to subscribers that asked for
// it (Subscription.LiveEvent), once the history they asked for has been sent
// (at once for a stream that does not resume): what follows is live. It has
// no id, so it does not change the client's last event id. Its data is a JSON
// object: {"replayed": <number of events replayed>}. A client can tell
// replayed events from live ones, and know when a reconnection has caught up.
const LiveEventType = "herald-live"

// Subscription describes a stream to open with [Hub.ServeStream]. The
// protocol layer (package mercure) builds it from the request after
// authorizing it.
type Subscription struct {
	// ID identifies the subscriber (e.g. in subscription events). A random
	// "urn:uuid:..." is generated when empty.
	ID string
	// Client is the address of the client (see Options.MaxClientSubscribers);
	// empty: not counted per client.
	Client string
	// Selectors select the topics of the updates sent. At least one.
	// Draft-08 matchers are given as selectors (topic.Matcher.Selector).
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
	// LiveEvent asks for a LiveEventType event once history is sent.
	LiveEvent bool
	// MatchedField asks for every update (live, replayed or broadcast) to
	// carry a "matched" field, which EventSource ignores, listing the
	// indexes in Selectors of those that select it, separated by spaces
	// ("matched: 0 2"): a client that shares one stream among several
	// subscriptions can route each update.
	MatchedField bool
	// Expires, when set, ends the stream at that time (token expiry).
	Expires time.Time
	// Payload is carried for the subscriptions API.
	Payload json.RawMessage
	// Payloads, when set, holds a payload per selector, carried for the
	// subscriptions API instead of Payload (draft 08 attaches a payload to
	// each matcher).
	Payloads []json.RawMessage
	// LastEventIDHeader is the response header that names the event the
	// stream starts after (herald.EarliestID when none): "Last-Event-ID"
	// (draft 07) when empty, "Mercure-Last-Event-ID" for draft 08.
	LastEventIDHeader string
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
// A subscription that would take the hub past one of its limits (see
// [Options]) is refused at once, before anything is held for it: 503, or 429
// for a client over its own share, with Retry-After and a message.
//
// For HTTP/1.x requests ServeStream takes over the connection and returns as
// soon as history is sent; the stream goes on without the request goroutine.
// For other requests it returns when the stream ends.
func (h *Hub) ServeStream(w http.ResponseWriter, r *http.Request, sub Subscription) {
	if h.closing.Load() {
		h.comeBackLater(w)
		return
	}
	if len(sub.Selectors) == 0 {
		httperr.Write(w, fmt.Errorf("%w: at least one topic selector is required", herald.ErrInvalid))
		return
	}
	if !sub.Expires.IsZero() && !time.Now().Before(sub.Expires) {
		httperr.Write(w, fmt.Errorf("%w: the token has expired", herald.ErrUnauthorized))
		return
	}
	replayDone, reason, err := h.admit(r.Context(), &sub)
	if err != nil {
		h.refused(reason, err)
		httperr.Write(w, err)
		return
	}
	defer replayDone()
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	// No cache, shared or private, may keep a stream (the Mercure draft's
	// SHOULD when the token is in the query string; true of every stream).
	hdr.Set("Cache-Control", "private, no-cache, no-store")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Del("Content-Length")

	s := &subscriber{
		hub:        h,
		id:         sub.ID,
		client:     sub.Client,
		selectors:  sub.Selectors,
		canReceive: sub.CanReceive,
		done:       make(chan struct{}),

		matchedField: sub.MatchedField,
	}
	if s.id == "" {
		s.id = NewID()
	}
	if sub.Payload != nil || sub.Payloads != nil || sub.OnClose != nil {
		s.extra = &subscriberExtra{payload: sub.Payload, payloads: sub.Payloads, onClose: sub.OnClose}
	}
	var cs *connSink
	if !h.opts.NoHijack {
		cs, s.hijacked = hijack(w, r, h.opts.WriteTimeout)
	}
	if s.hijacked {
		s.sink = cs
	} else {
		s.sink = newWriterSink(w, h.opts.WriteTimeout)
	}
	s.lastWrite.Store(time.Now().UnixNano())

	// Register before reading history, so nothing published meanwhile is
	// missed; what is both replayed and queued is dropped by Seq below.
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
		ended := s.st.ended()
		s.mu.Unlock()
		if ended {
			cancel()
		}
		h.resume(ctx, s, hdr, sub)
		s.mu.Lock()
		s.stopReplay = nil
		s.mu.Unlock()
		cancel()
		replayDone()
	} else {
		if last == "" {
			last = herald.EarliestID
		}
		hdr.Set(lastEventIDHeader(sub), last)
		err := s.sink.writeHeader(hdr)
		if err == nil && sub.LiveEvent {
			err = s.sink.write([]*frame{liveFrame(0)})
		}
		if err != nil {
			s.close(ReasonClient)
		}
	}
	if h.beforeLive != nil {
		h.beforeLive()
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

// comeBackLater answers a subscription that arrives while the hub shuts
// down. An error status would make browsers give up for good: it answers
// with an empty stream that says when to come back (to a restarted hub or
// another node).
func (h *Hub) comeBackLater(w http.ResponseWriter) {
	h.metrics.Refused(RefusedDraining)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "private, no-cache, no-store")
	w.WriteHeader(http.StatusOK)
	if f := h.retryFrame(); f != nil {
		_, _ = w.Write(f.data)
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
		hdr.Set(lastEventIDHeader(sub), lastEventID)
		if err := s.sink.writeHeader(hdr); err != nil {
			return writeFailed{err}
		}
		return nil
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
		if err != nil {
			return writeFailed{err}
		}
		return nil
	}
	errStop := errors.New("stream closed")
	after := sub.LastEventID
	held, err := h.resumePoint(ctx, s, after)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("looking up the id to resume from failed", "err", err)
		}
		if !errors.Is(err, herald.ErrUnavailable) {
			err = errors.New("reading history failed")
		}
		s.sink.fail(err)
		s.close(ReasonReplay)
		return
	}
	for pass := 0; ; pass++ {
		var lastSeq uint64
		yielded := false
		err := herald.ErrNotHeld
		if held {
			err = h.store.Replay(ctx, after, func(u herald.Update) error {
				yielded = true
				lastSeq, after = u.Seq, u.ID
				if !s.wants(u.Topics, u.Private) {
					return nil
				}
				f, err := encode(&u)
				if err != nil {
					return nil
				}
				f = s.matchedFrame(f, u.Topics)
				batch = append(batch, f)
				size += len(f.data)
				if size >= maxCopy || len(batch) >= 512 {
					if err := write(); err != nil {
						return err
					}
					s.mu.Lock()
					stop := !s.st.accepting()
					s.mu.Unlock()
					if stop {
						return errStop
					}
				}
				return nil
			})
		}
		switch {
		case errors.Is(err, herald.ErrNotHeld) && pass == 0:
			// Not held at all (nothing sent yet: the header says
			// "earliest"), or retention removed updates while they were
			// being read (send what was read, then signal the gap).
			h.metrics.HistoryGap()
			if yielded {
				err = write()
			} else {
				// Live delivery starts now: what is queued was published
				// after the stream was registered.
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
				if !errors.Is(err, herald.ErrUnavailable) {
					err = errors.New("reading history failed")
				}
				headerSent = true
				s.sink.fail(err)
			}
			if errors.As(err, new(writeFailed)) {
				s.close(ReasonWrite) // the client, not history, failed
			} else {
				s.close(ReasonReplay)
			}
			break
		}
		if yielded {
			s.raiseMin(lastSeq)
		}
		s.mu.Lock()
		if !s.overflow || s.st.ended() || pass+1 >= h.opts.ReplayPasses {
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
	if sub.LiveEvent && headerSent {
		s.mu.Lock()
		ended := s.st.ended()
		s.mu.Unlock()
		if !ended {
			if err := s.sink.write([]*frame{liveFrame(total)}); err != nil {
				s.close(ReasonWrite)
			}
		}
	}
}

// lastEventIDHeader is the response header that names where sub's stream
// starts.
func lastEventIDHeader(sub Subscription) string {
	if sub.LastEventIDHeader == "" {
		return "Last-Event-ID"
	}
	return sub.LastEventIDHeader
}

// liveFrame is the LiveEventType event saying that replayed events were sent.
func liveFrame(replayed int) *frame {
	return &frame{data: fmt.Appendf(nil, "event: %s\ndata: {\"replayed\":%d}\n\n", LiveEventType, replayed)}
}

// writeFailed is an error of a write to the client during a replay.
type writeFailed struct{ err error }

func (e writeFailed) Error() string { return e.err.Error() }
func (e writeFailed) Unwrap() error { return e.err }

// resumePoint lines s up with the id it resumes from: s is sent nothing up
// to that update (its live queue included), and held reports whether history
// holds it. A publisher-chosen id of a private update s may not receive is
// answered as not held, so that guessing ids reveals nothing about private
// updates; positions and generated ids reveal nothing and are always
// honoured.
func (h *Hub) resumePoint(ctx context.Context, s *subscriber, after string) (held bool, err error) {
	if after == herald.EarliestID {
		return true, nil
	}
	at, err := h.store.Lookup(ctx, after)
	switch {
	case errors.Is(err, herald.ErrNotHeld):
		return false, nil
	case err != nil:
		return false, err
	}
	if _, _, generated := herald.ParseID(after); !generated && at.Private && !s.allowed(at.Topics, true) {
		return false, nil
	}
	s.raiseMin(at.Seq)
	return true, nil
}

// goLive hands the stream from the request goroutine to a writer (when
// something is queued, or the stream must end) or to nobody. If the live
// queue overflowed since the replay last looked (updates were dropped from
// it), the stream cannot go live without losing them: it is closed as slow
// instead, and the client, resuming from the last event it got, receives
// them from history.
func (s *subscriber) goLive() {
	s.mu.Lock()
	closed := false
	if s.overflow {
		closed, _ = s.closeLocked(ReasonSlow) // owned by this goroutine: released below
	}
	start, release := s.st.live(len(s.queue) > 0)
	s.mu.Unlock()
	if closed {
		s.finishClose(false)
	}
	switch {
	case release:
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
