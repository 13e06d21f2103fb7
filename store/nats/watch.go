package nats

import (
	"context"
	"errors"
	"time"

	"github.com/herald-sse/herald"
	"github.com/nats-io/nats.go/jetstream"
)

// Watch implements herald.Store: fn is called from the calling goroutine
// with what the Store's ordered consumer gets from JetStream (updates
// appended by any node), and a slow fn delays only this watcher. Watch
// returns nil when ctx is done or the Store is closed; it keeps waiting
// while NATS is down (the consumer resumes after the last update it
// delivered).
func (s *Store) Watch(ctx context.Context, fn func([]herald.Update)) error {
	return s.feed.Watch(ctx, fn)
}

// startWatch starts the Store's ordered consumer at Seq next and the
// goroutine that feeds its messages to the watchers.
func (s *Store) startWatch(ctx context.Context, next uint64) error {
	cons, err := s.js.OrderedConsumer(ctx, s.name, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       next,
		InactiveThreshold: consumerInactive,
	})
	if err != nil {
		return s.fail("watch", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(watchBuffer))
	if err != nil {
		return s.fail("watch", err)
	}
	s.watch = it
	s.done.Add(1)
	go s.read(cons, it, next-1)
	return nil
}

// read feeds the watchers until the iterator is stopped. last is the Seq
// delivered last.
func (s *Store) read(cons jetstream.Consumer, it jetstream.MessagesContext, last uint64) {
	defer s.done.Done()
	defer s.deleteConsumer(cons)
	inst := s.state.Load().instance
	for {
		msg, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			s.log.Debug("watch: reading the stream failed; retrying", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			s.log.Error("watch: skipping a message without metadata", "err", err)
			continue
		}
		seq := meta.Sequence.Stream
		if seq != last+1 {
			inst = s.noticeJump(inst, last, seq)
		}
		last = seq
		u, err := decode(msg.Data(), seq, inst)
		if err != nil {
			s.log.Error("watch: skipping a message Herald cannot read", "seq", seq, "err", err)
			continue
		}
		s.feed.Publish([]herald.Update{u})
		s.progress.deliveredAt(seq)
	}
}

// noticeJump is called when the consumer skips from Seq last to seq: the
// stream was re-created (its Seqs start higher), or updates were removed by
// retention before the consumer, reconnecting, could read them. It returns
// the instance that seq belongs to.
func (s *Store) noticeJump(inst string, last, seq uint64) string {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	state, err := s.refresh(ctx)
	if err != nil {
		state = s.state.Load()
	}
	if state.instance != inst {
		s.log.Warn("watch: the stream was re-created; delivering the new one's updates", "old_instance", inst, "new_instance", state.instance, "first", seq)
		return state.instance
	}
	s.log.Warn("watch: updates were removed by retention before they could be delivered", "from", last+1, "to", seq-1)
	return inst
}
