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
// once JetStream acknowledged it. While NATS is unreachable it fails at once
// with an error wrapping herald.ErrUnavailable. If the acknowledgement is
// lost (NATS died after storing), the error wraps ErrUnavailable too although
// the update may have been stored.
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
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(s.name))
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		// Nobody stores the subject: the stream may be gone (a server that
		// lost its storage). Re-create it and try once more.
		if state, err = s.refresh(ctx); err != nil {
			return herald.Update{}, err
		}
		ack, err = s.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(s.name))
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
