package nats

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// bind finds the stream, creating it when it does not exist and updating
// its limits (and atomic batches, which a stream made by an earlier Herald
// lacks) when they differ from the Store's, and records its instance.
func (s *Store) bind(ctx context.Context) error {
	st, err := s.js.Stream(ctx, s.name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if _, err = s.create(ctx); err == nil {
			st, err = s.js.Stream(ctx, s.name)
		}
	case err == nil:
		cur := st.CachedInfo().Config
		if !slices.Contains(cur.Subjects, s.cfg.Subjects[0]) {
			return fmt.Errorf("nats: stream %q exists with subjects %q, not %q: choose another stream or subject", s.name, cur.Subjects, s.cfg.Subjects[0])
		}
		if cur.MaxMsgs != s.cfg.MaxMsgs || cur.MaxBytes != s.cfg.MaxBytes || cur.MaxAge != s.cfg.MaxAge || !cur.AllowAtomicPublish {
			cur.MaxMsgs, cur.MaxBytes, cur.MaxAge = s.cfg.MaxMsgs, s.cfg.MaxBytes, s.cfg.MaxAge
			cur.AllowAtomicPublish = true
			if st, err = s.js.UpdateStream(ctx, cur); err == nil {
				s.log.Info("updated the stream's configuration", "max_msgs", cur.MaxMsgs, "max_bytes", cur.MaxBytes, "max_age", cur.MaxAge, "allow_atomic", true)
			}
		}
	}
	if err != nil {
		return s.fail("bind the stream", err)
	}
	s.stream = st
	if !s.setState(st.CachedInfo()).atomic {
		s.log.Warn("the NATS server does not take atomic batches (nats-server 2.12 or later is needed): AppendBatch of more than one update fails; Append works", "server_version", s.nc.ConnectedServerVersion())
	}
	return nil
}

// create creates the stream (or finds it, when another node was quicker).
// Its Seqs start at a value derived from the clock, above any Seq of an
// earlier incarnation.
func (s *Store) create(ctx context.Context) (*jetstream.StreamInfo, error) {
	cfg := s.cfg
	cfg.FirstSeq = uint64(time.Now().UnixMilli()) * 1000
	st, err := s.js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		if st, err = s.js.Stream(ctx, s.name); err != nil {
			return nil, err
		}
		return st.CachedInfo(), nil
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("created the JetStream stream", "subjects", cfg.Subjects, "first_seq", cfg.FirstSeq)
	return st.CachedInfo(), nil
}

// setState records the incarnation of the stream info describes, and logs
// when it changed.
func (s *Store) setState(info *jetstream.StreamInfo) *streamState {
	next := &streamState{instance: instanceOf(info.Created), created: info.Created, atomic: info.Config.AllowAtomicPublish}
	prev := s.state.Swap(next)
	if prev != nil && prev.instance != next.instance {
		s.log.Warn("the JetStream stream was re-created: ids of the old one are not held any more",
			"old_instance", prev.instance, "new_instance", next.instance)
	}
	return next
}

// current returns the stream's incarnation, re-reading it (and re-creating a
// lost stream) first when the connection was lost since it was last read.
func (s *Store) current(ctx context.Context) (*streamState, error) {
	if !s.stale.Load() {
		return s.state.Load(), nil
	}
	return s.refresh(ctx)
}

// refresh re-reads the stream's incarnation, re-creating the stream when it
// is gone.
func (s *Store) refresh(ctx context.Context) (*streamState, error) {
	s.stale.Store(false)
	info, err := s.stream.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		info, err = s.create(ctx)
	}
	if err != nil {
		s.stale.Store(true)
		return nil, s.fail("stream info", err)
	}
	return s.setState(info), nil
}

// instanceOf derives an instance id from a stream's creation time.
func instanceOf(created time.Time) string {
	return strconv.FormatInt(created.UnixNano(), 36)
}

// subjectFor returns the subject an update with id is published to.
func (s *Store) subjectFor(id string) string {
	if id == "" {
		return s.prefix + ".g"
	}
	return s.prefix + ".p." + base64.RawURLEncoding.EncodeToString([]byte(id))
}
