package nats_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/nats"
	"github.com/herald-sse/herald/store/nats/natstest"
	"github.com/herald-sse/herald/store/storetest"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// setAtomic turns the stream's atomic batches on or off, as an operator (or
// a server older than 2.12, which never keeps the setting) would.
func setAtomic(t *testing.T, srv *natstest.Server, stream string, on bool) {
	t.Helper()
	nc, err := natsgo.Connect("nats://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.AllowAtomicPublish = on
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
}

func batch(n int) []herald.Update {
	us := make([]herald.Update, n)
	for i := range us {
		us[i] = herald.Update{Topics: []string{"t"}, Data: "batched"}
	}
	return us
}

// TestBatchWithoutAtomicPublish: on a stream that does not take atomic
// batches, AppendBatch of several updates fails with errors.ErrUnsupported
// and stores nothing, whether JetStream refuses it or the store knows
// beforehand; one update, and Append, still work; a Store opening the
// stream turns atomic batches on again.
func TestBatchWithoutAtomicPublish(t *testing.T) {
	srv := natstest.Start(t)
	stream := newStream()
	s := open(t, srv, stream)
	before := storetest.AppendData(t, s, "before")
	setAtomic(t, srv, stream, false)

	if _, err := s.AppendBatch(t.Context(), batch(3)); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("AppendBatch refused by JetStream = %v, want errors.ErrUnsupported", err)
	}
	if err := s.Healthy(t.Context()); err != nil { // re-reads the stream's configuration
		t.Fatal(err)
	}
	if _, err := s.AppendBatch(t.Context(), batch(3)); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("AppendBatch on a stream known not to take batches = %v, want errors.ErrUnsupported", err)
	}
	one, err := s.AppendBatch(t.Context(), batch(1))
	if err != nil || len(one) != 1 {
		t.Fatalf("AppendBatch of one update = %v, %v; want it stored", one, err)
	}
	if got, err := storetest.ReplayIDs(t, s, herald.EarliestID); err != nil || !slices.Equal(got, []string{before.ID, one[0].ID}) {
		t.Fatalf("Replay(earliest) = %q, %v; want only %q and %q: refused batches store nothing", got, err, before.ID, one[0].ID)
	}

	again, err := nats.Open(t.Context(), srv.URL(stream), nats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, err := again.AppendBatch(t.Context(), batch(3)); err != nil || len(got) != 3 {
		t.Fatalf("AppendBatch after Open turned atomic batches on again = %v, %v", got, err)
	}
}
