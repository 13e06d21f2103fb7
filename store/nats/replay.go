package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herald-sse/herald"
	"github.com/nats-io/nats.go/jetstream"
)

// Replay implements herald.Store. It reads the stream's state (and, for a
// publisher's id, the last message on that id's subject: an index lookup),
// then reads the updates with an ordered consumer, deleted afterwards. If
// retention removes the next update while a slow fn runs, Replay returns an
// error wrapping herald.ErrNotHeld instead of skipping it.
func (s *Store) Replay(ctx context.Context, after string, fn func(herald.Update) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return fmt.Errorf("nats: replay: %w", herald.ErrClosed)
	}
	start, last, inst, err := s.locate(ctx, after)
	if err != nil || start > last {
		return err
	}
	return s.consume(ctx, start, last, inst, after == herald.EarliestID, fn)
}

// locate returns the first Seq to replay after after, the newest Seq held,
// and the stream's instance.
func (s *Store) locate(ctx context.Context, after string) (start, last uint64, inst string, err error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, 0, "", s.fail("replay", err)
	}
	state := s.setState(info)
	first, last := info.State.FirstSeq, info.State.LastSeq
	held := info.State.Msgs > 0
	notHeld := fmt.Errorf("nats: replay after %q: %w", after, herald.ErrNotHeld)
	if after == herald.EarliestID {
		if !held {
			return 1, 0, state.instance, nil
		}
		return first, last, state.instance, nil
	}
	if in, seq, ok := herald.ParseID(after); ok {
		if in != state.instance || !held || seq < first || seq > last {
			return 0, 0, "", notHeld
		}
		return seq + 1, last, state.instance, nil
	}
	msg, err := s.stream.GetLastMsgForSubject(ctx, s.subjectFor(after))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, 0, "", notHeld
	}
	if err != nil {
		return 0, 0, "", s.fail("replay", err)
	}
	if msg.Sequence < first || msg.Sequence > last {
		return 0, 0, "", notHeld // removed or appended since Info
	}
	return msg.Sequence + 1, last, state.instance, nil
}

// consume calls fn with the updates from start to last. When earliest is
// set, updates that retention removes before the first call of fn are
// skipped (they were the oldest held), not reported as ErrNotHeld.
func (s *Store) consume(ctx context.Context, start, last uint64, inst string, earliest bool, fn func(herald.Update) error) error {
	octx, cancel := s.opContext(ctx)
	cons, err := s.js.OrderedConsumer(octx, s.name, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		InactiveThreshold: consumerInactive,
		MaxResetAttempts:  2,
	})
	cancel()
	if err != nil {
		return s.fail("replay", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(int(min(replayChunk, last-start+1))))
	if err != nil {
		return s.fail("replay", err)
	}
	defer func() {
		it.Stop()
		s.deleteConsumer(cons)
	}()
	for next := start; next <= last; {
		wctx, wcancel := context.WithTimeout(ctx, replayStall)
		msg, err := it.Next(jetstream.NextContext(wctx))
		wcancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case s.isClosed():
			return fmt.Errorf("nats: replay: %w", herald.ErrClosed)
		case errors.Is(err, context.DeadlineExceeded):
			// Nothing came for a while: retention may have removed the
			// rest (the consumer then waits for messages that never come).
			done, err := s.stillHeld(ctx, next, last, earliest && next == start)
			if done || err != nil {
				return err
			}
			continue
		case err != nil:
			return s.fail("replay", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("nats: replay: %v", err)
		}
		seq := meta.Sequence.Stream
		if seq > next && earliest && next == start {
			next = seq // the oldest were removed before any was replayed
		}
		if seq > next {
			return fmt.Errorf("nats: replay: update %d was removed by retention during the replay: %w", next, herald.ErrNotHeld)
		}
		if seq < next {
			continue
		}
		u, err := decode(msg.Data(), seq, inst)
		if err != nil {
			return fmt.Errorf("nats: replay: message %d: %v", seq, err)
		}
		if err := fn(u); err != nil {
			return err
		}
		next = seq + 1
	}
	return nil
}

// stillHeld checks, when a replay waits for Seq next, whether the stream
// still holds it. It returns an error wrapping herald.ErrNotHeld when not, or
// ErrUnavailable when it cannot tell. When skip is set, removed updates are
// not an error: done then reports that nothing up to last is held any more.
func (s *Store) stillHeld(ctx context.Context, next, last uint64, skip bool) (done bool, err error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return false, s.fail("replay", err)
	}
	removed := info.State.Msgs == 0 || info.State.FirstSeq > next
	switch {
	case !removed:
		return false, nil
	case skip:
		return info.State.Msgs == 0 || info.State.FirstSeq > last, nil
	}
	return false, fmt.Errorf("nats: replay: update %d was removed by retention during the replay: %w", next, herald.ErrNotHeld)
}

// deleteConsumer deletes a consumer the Store no longer needs rather than
// leaving it to JetStream's inactivity timeout. Failures are harmless.
func (s *Store) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || s.nc.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.js.DeleteConsumer(ctx, s.name, info.Name)
}

// Lookup implements herald.Store with one request: a position names the
// message at its sequence, a publisher's id the last message on its subject
// (JetStream's per-subject index).
func (s *Store) Lookup(ctx context.Context, id string) (herald.Update, error) {
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	if s.isClosed() {
		return herald.Update{}, fmt.Errorf("nats: lookup: %w", herald.ErrClosed)
	}
	notHeld := fmt.Errorf("nats: lookup %q: %w", id, herald.ErrNotHeld)
	instance, seq, generated := herald.ParseID(id)
	if generated && seq == 0 || !generated && (id == "" || id == herald.EarliestID) {
		return herald.Update{}, notHeld
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	state, err := s.current(ctx)
	if err != nil {
		return herald.Update{}, err
	}
	if generated && instance != state.instance {
		// The stream may have been re-created since it was last seen.
		if state, err = s.refresh(ctx); err != nil {
			return herald.Update{}, err
		}
		if instance != state.instance {
			return herald.Update{}, notHeld
		}
	}
	var msg *jetstream.RawStreamMsg
	if generated {
		msg, err = s.stream.GetMsg(ctx, seq)
	} else {
		msg, err = s.stream.GetLastMsgForSubject(ctx, s.subjectFor(id))
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return herald.Update{}, notHeld
	}
	if err != nil {
		return herald.Update{}, s.fail("lookup", err)
	}
	u, err := decode(msg.Data, msg.Sequence, state.instance)
	if err != nil {
		return herald.Update{}, fmt.Errorf("nats: lookup: message %d: %v", msg.Sequence, err)
	}
	return u, nil
}

// Last implements herald.Store with one request, the last message on any of
// the stream's subjects: the newest update's position.
func (s *Store) Last(ctx context.Context) (string, uint64, error) {
	if s.isClosed() {
		return "", 0, fmt.Errorf("nats: last: %w", herald.ErrClosed)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	state, err := s.current(ctx)
	if err != nil {
		return "", 0, err
	}
	msg, err := s.stream.GetLastMsgForSubject(ctx, s.prefix+".>")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, s.fail("last", err)
	}
	return herald.FormatID(state.instance, msg.Sequence), msg.Sequence, nil
}
