package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/herald-sse/herald"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Append implements herald.Store: it publishes u to the stream and returns
// once JetStream acknowledged it. An update with a publisher's id is
// published with the expectation that its id's subject holds no message
// (Nats-Expected-Last-Subject-Sequence: 0), which JetStream checks
// atomically with storing it: while an update with that id is held, by any
// node, Append fails with an error wrapping herald.ErrConflict. While NATS is
// unreachable it fails at once with an error wrapping herald.ErrUnavailable.
// If the acknowledgement is lost (NATS died after storing), the error wraps
// ErrUnavailable too although the update may have been stored.
func (s *Store) Append(ctx context.Context, u herald.Update) (herald.Update, error) {
	if err := u.Validate(); err != nil {
		return herald.Update{}, fmt.Errorf("nats: append: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return herald.Update{}, err
	}
	if !s.gate.Enter() {
		return herald.Update{}, fmt.Errorf("nats: append: %w", herald.ErrClosed)
	}
	defer s.gate.Leave()

	if st := s.nc.Status(); st != natsgo.CONNECTED {
		return herald.Update{}, fmt.Errorf("nats: append: %w: the connection to NATS is %s", herald.ErrUnavailable, st)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	state, err := s.current(ctx)
	if err != nil {
		return herald.Update{}, err
	}
	t := time.Unix(0, time.Now().UnixNano())
	msg := &natsgo.Msg{Subject: s.subjectFor(u.ID), Data: encode(&u, t)}
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(s.name)}
	if u.ID != "" {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(0))
	}
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		// Nobody stores the subject: the stream may be gone (a server that
		// lost its storage). Re-create it and try once more.
		if state, err = s.refresh(ctx); err != nil {
			return herald.Update{}, err
		}
		ack, err = s.js.PublishMsg(ctx, msg, opts...)
	}
	if isConflict(err) {
		return herald.Update{}, fmt.Errorf("nats: append: %w", conflict(u.ID))
	}
	if err != nil {
		return herald.Update{}, s.fail("append", err)
	}
	u.Topics = slices.Clone(u.Topics)
	u.Seq, u.Time = ack.Sequence, t
	if u.ID == "" {
		u.ID = herald.FormatID(state.instance, u.Seq)
	}
	s.progress.appendedAt(u.Seq)
	return u, nil
}

func conflict(id string) error {
	return fmt.Errorf("id %q is held in history: %w", id, herald.ErrConflict)
}

// isConflict reports whether err is JetStream's refusal of a message whose
// expected last sequence on its subject does not match (R1 streams answer
// with the sequence found, replicated ones with a constant error).
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
