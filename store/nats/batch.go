package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/herald-sse/herald"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// The headers of JetStream's atomic batch publish (nats-server 2.12+).
const (
	batchIDHeader     = "Nats-Batch-Id"
	batchSeqHeader    = "Nats-Batch-Sequence"
	batchCommitHeader = "Nats-Batch-Commit"
)

// JetStream's error codes for a batch it does not take whole.
const (
	errCodeAtomicDisabled  = 10174 // the stream does not allow atomic batches
	errCodeBatchIncomplete = 10176 // a message of the batch was lost or refused
	errCodeBatchTooLarge   = 10199 // more messages than the server allows
	errCodeBatchTooMany    = 10210 // too many batches in flight
	headerRoom             = 256   // bytes a batch message's headers take, at most
)

// batchAck is JetStream's answer to a batch's commit.
type batchAck struct {
	Error *jetstream.APIError `json:"error"`
	Seq   uint64              `json:"seq"`
	Batch string              `json:"batch"`
	Count int                 `json:"count"`
}

// AppendBatch implements herald.Store with JetStream's atomic batch publish:
// the batch's messages go out together, the last one commits them, and
// JetStream stores all of them, with consecutive sequences and nothing in
// between, or none: one round trip. Updates with a publisher's id carry
// Nats-Expected-Last-Subject-Sequence: 0 as in Append; if one is held the
// batch is refused with a *herald.BatchError naming it (found by looking the
// batch's ids up, after the refusal). Errors: those of Append; an error
// wrapping errors.ErrUnsupported when the server does not take atomic
// batches (older than 2.12); herald.ErrUnavailable when JetStream has too
// many batches in flight or lost one of the batch's messages (nothing was
// stored: retry).
func (s *Store) AppendBatch(ctx context.Context, us []herald.Update) ([]herald.Update, error) {
	if err := herald.ValidateBatch(us); err != nil {
		return nil, fmt.Errorf("nats: append batch: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, nil
	}
	if len(us) == 1 && !s.state.Load().atomic { // a server without batches: no batch needed
		u, err := s.Append(ctx, us[0])
		if errors.Is(err, herald.ErrConflict) || errors.Is(err, herald.ErrTooLarge) {
			return nil, &herald.BatchError{Index: 0, Err: err}
		}
		if err != nil {
			return nil, err
		}
		return []herald.Update{u}, nil
	}
	if !s.gate.Enter() {
		return nil, fmt.Errorf("nats: append batch: %w", herald.ErrClosed)
	}
	defer s.gate.Leave()
	if st := s.nc.Status(); st != natsgo.CONNECTED {
		return nil, fmt.Errorf("nats: append batch: %w: the connection to NATS is %s", herald.ErrUnavailable, st)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	state, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	if !state.atomic {
		return nil, fmt.Errorf("nats: append batch: %w: the NATS server (%s) does not take atomic batches into stream %q: nats-server 2.12 or later is needed",
			errors.ErrUnsupported, s.nc.ConnectedServerVersion(), s.name)
	}
	t := time.Unix(0, time.Now().UnixNano())
	id := nuid.Next()
	max := s.nc.MaxPayload()
	msgs := make([]*natsgo.Msg, len(us))
	for i := range us {
		m := natsgo.NewMsg(s.subjectFor(us[i].ID))
		m.Data = encode(&us[i], t)
		if int64(len(m.Data)+headerRoom) > max {
			return nil, fmt.Errorf("nats: append batch: %w", &herald.BatchError{Index: i, Err: fmt.Errorf(
				"%w: the update takes %d bytes, NATS takes at most %d per message", herald.ErrTooLarge, len(m.Data), max-headerRoom)})
		}
		m.Header.Set(batchIDHeader, id)
		m.Header.Set(batchSeqHeader, strconv.Itoa(i+1))
		if us[i].ID != "" {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		}
		msgs[i] = m
	}
	last := msgs[len(msgs)-1]
	last.Header.Set(batchCommitHeader, "1")
	last.Header.Set(jetstream.ExpectedStreamHeader, s.name)

	ack, err := s.publishBatch(ctx, msgs)
	if errors.Is(err, natsgo.ErrNoResponders) {
		// Nobody stores the subjects: the stream may be gone (a server that
		// lost its storage). Re-create it and send the batch once more.
		if state, err = s.refresh(ctx); err != nil {
			return nil, err
		}
		ack, err = s.publishBatch(ctx, msgs)
	}
	if err == nil && ack.Error != nil {
		err = s.batchRefused(ctx, us, ack.Error)
	}
	if err == nil && (ack.Batch != id || ack.Count != len(us)) {
		// Never expected: the server did not take the messages as one batch.
		err = fmt.Errorf("nats: append batch: JetStream acknowledged batch %q of %d messages, want %q of %d", ack.Batch, ack.Count, id, len(us))
	}
	if err != nil {
		return nil, err
	}
	first := ack.Seq - uint64(len(us)) + 1
	out := make([]herald.Update, len(us))
	for i, u := range us {
		u.Topics = slices.Clone(u.Topics)
		u.Seq, u.Time = first+uint64(i), t
		if u.ID == "" {
			u.ID = herald.FormatID(state.instance, u.Seq)
		}
		out[i] = u
	}
	s.progress.appendedAt(ack.Seq)
	return out, nil
}

// publishBatch sends msgs, all but the last without a reply (JetStream
// stages them), then the last, which commits the batch, as a request, and
// returns JetStream's answer. All go out on one connection, in order.
func (s *Store) publishBatch(ctx context.Context, msgs []*natsgo.Msg) (batchAck, error) {
	for _, m := range msgs[:len(msgs)-1] {
		if err := s.nc.PublishMsg(m); err != nil {
			return batchAck{}, s.fail("append batch", err)
		}
	}
	resp, err := s.nc.RequestMsgWithContext(ctx, msgs[len(msgs)-1])
	if errors.Is(err, natsgo.ErrNoResponders) {
		return batchAck{}, err
	}
	if err != nil {
		return batchAck{}, s.fail("append batch", err)
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return batchAck{}, fmt.Errorf("nats: append batch: JetStream answered %q: %v", resp.Data, err)
	}
	return ack, nil
}

// batchRefused explains JetStream's refusal of a batch (nothing of it was
// stored). For a held id it finds which update has one.
func (s *Store) batchRefused(ctx context.Context, us []herald.Update, apiErr *jetstream.APIError) error {
	switch {
	case isConflict(apiErr):
		for i := range us {
			if us[i].ID == "" {
				continue
			}
			_, err := s.stream.GetLastMsgForSubject(ctx, s.subjectFor(us[i].ID))
			if err == nil {
				return fmt.Errorf("nats: append batch: %w", &herald.BatchError{Index: i, Err: conflict(us[i].ID)})
			}
		}
		return fmt.Errorf("nats: append batch: an id of the batch is held in history (%v): %w", apiErr, herald.ErrConflict)
	case apiErr.ErrorCode == errCodeBatchTooLarge:
		return fmt.Errorf("nats: append batch: %w: %v", herald.ErrTooLarge, apiErr)
	case apiErr.ErrorCode == errCodeAtomicDisabled:
		return fmt.Errorf("nats: append batch: %w: %v", errors.ErrUnsupported, apiErr)
	case apiErr.ErrorCode == errCodeBatchTooMany, apiErr.ErrorCode == errCodeBatchIncomplete:
		return fmt.Errorf("nats: append batch: %w: %v", herald.ErrUnavailable, apiErr)
	}
	return s.fail("append batch", apiErr)
}
