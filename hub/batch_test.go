package hub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/store/nats"
	"github.com/herald-sse/herald/store/nats/natstest"
	"github.com/herald-sse/herald/store/redis"
	"github.com/herald-sse/herald/store/redis/redistest"
)

// batchStores are the stores PublishBatch is checked on end to end: the
// memory store and the durable one (whose batch is one group commit).
var batchStores = []struct {
	name string
	open func(t *testing.T) herald.Store
}{
	{"memory", func(t *testing.T) herald.Store { return memory.New(memory.Options{Instance: "batch"}) }},
	{"bolt", func(t *testing.T) herald.Store {
		s, err := bolt.Open(t.TempDir(), bolt.Options{Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// allStores adds the cluster stores, each on an engine of its own: a
// redis-server process, and a nats-server in this process.
var allStores = append(batchStores[:len(batchStores):len(batchStores)], []struct {
	name string
	open func(t *testing.T) herald.Store
}{
	{"redis", func(t *testing.T) herald.Store {
		s, err := redis.Open(t.Context(), redistest.Start(t, redistest.Options{}).URL("batch"), redis.Options{Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"nats", func(t *testing.T) herald.Store {
		s, err := nats.Open(t.Context(), natstest.Start(t).URL("batch"), nats.Options{Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}...)

// TestPublishBatch: Hub.PublishBatch stores a batch and returns it as
// stored, in order, with consecutive Seqs; subscribers over HTTP receive
// each update, in that order, on every delivery path.
func TestPublishBatch(t *testing.T) {
	for _, st := range batchStores {
		for _, m := range hubtest.Modes {
			t.Run(st.name+"/"+m.Name, func(t *testing.T) {
				t.Parallel()
				e := hubtest.New(t, hubtest.Config{Mode: m, Store: st.open(t)})
				s := e.Subscribe(t, hubtest.Topics("https://example.com/books/{id}"), nil)
				in := []herald.Update{
					{Topics: []string{"https://example.com/books/1"}, Data: "one", Type: "book.updated"},
					{Topics: []string{"https://example.com/books/2", "https://example.com/alt/2"}, Data: "two", ID: "chosen-2", Retry: time.Second},
					{Topics: []string{"https://example.com/books/3"}, Data: "three\nlines"},
				}
				stored, err := e.Hub.PublishBatch(context.Background(), in)
				if err != nil {
					t.Fatalf("PublishBatch: %v", err)
				}
				if len(stored) != len(in) {
					t.Fatalf("PublishBatch returned %d updates, want %d", len(stored), len(in))
				}
				for i, u := range stored {
					if u.Data != in[i].Data || u.Seq == 0 || u.Time.IsZero() || u.ID == "" || (i > 0 && u.Seq != stored[i-1].Seq+1) {
						t.Errorf("update %d stored as %+v: want the data %q, a Seq following the last, a Time and an id", i, u, in[i].Data)
					}
				}
				if stored[1].ID != "chosen-2" {
					t.Errorf("update 1 stored with id %q, want the one it was given", stored[1].ID)
				}
				for i, u := range stored {
					ev := s.Next(t)
					if ev.ID != u.ID || ev.Data != u.Data || ev.Type != cmpOr(u.Type, "message") || ev.Retry != u.Retry {
						t.Errorf("event %d: received %+v, want %+v", i, ev, u)
					}
				}
			})
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestPublishBatchRefused: a batch with one update at fault is refused
// whole, with a *herald.BatchError naming that update (ErrInvalid, or
// ErrConflict for an id used twice in the batch or held in history), and
// nothing of it is stored or delivered; more than herald.MaxBatchLen
// updates is ErrTooLarge; an empty batch stores nothing.
func TestPublishBatchRefused(t *testing.T) {
	for _, st := range allStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Store: st.open(t)})
			s := e.Subscribe(t, hubtest.Topics("t", hubtest.Sentinel), nil)
			held, err := e.Hub.Publish(context.Background(), herald.Update{Topics: []string{"t"}, ID: "held", Data: "first"})
			if err != nil {
				t.Fatal(err)
			}
			ok := herald.Update{Topics: []string{"t"}, Data: "ok"}
			for _, tc := range []struct {
				name  string
				batch []herald.Update
				index int
				want  error
			}{
				{"no topic", []herald.Update{ok, {Data: "x"}, ok}, 1, herald.ErrInvalid},
				{"bad id", []herald.Update{ok, ok, {Topics: []string{"t"}, ID: "#x"}}, 2, herald.ErrInvalid},
				{"bad type", []herald.Update{{Topics: []string{"t"}, Type: "a\nb"}, ok}, 0, herald.ErrInvalid},
				{"id twice", []herald.Update{{Topics: []string{"t"}, ID: "a"}, ok, {Topics: []string{"t"}, ID: "a"}}, 2, herald.ErrConflict},
				{"id held", []herald.Update{ok, {Topics: []string{"t"}, ID: "held"}}, 1, herald.ErrConflict},
			} {
				_, err := e.Hub.PublishBatch(context.Background(), tc.batch)
				be, isBatch := errors.AsType[*herald.BatchError](err)
				if !errors.Is(err, tc.want) || !isBatch || be.Index != tc.index {
					t.Errorf("%s: PublishBatch = %v, want a *herald.BatchError at index %d wrapping %v", tc.name, err, tc.index, tc.want)
				}
			}
			long := make([]herald.Update, herald.MaxBatchLen+1)
			for i := range long {
				long[i] = ok
			}
			if _, err := e.Hub.PublishBatch(context.Background(), long); !errors.Is(err, herald.ErrTooLarge) {
				t.Errorf("a batch of %d updates: %v, want ErrTooLarge", len(long), err)
			}
			if stored, err := e.Hub.PublishBatch(context.Background(), nil); err != nil || len(stored) != 0 {
				t.Errorf("an empty batch: %v, %v; want nothing and no error", stored, err)
			}
			if _, seq, err := e.Store.Last(context.Background()); err != nil || seq != held.Seq {
				t.Errorf("the store's last update is at %d (%v), want %d: the one published before the refused batches", seq, err, held.Seq)
			}
			got := e.Flush(t, s)[0]
			if len(got) != 1 || got[0].ID != "held" {
				t.Errorf("the subscriber received %d updates (%.80q…), want only the one published before the refused batches", len(got), hubtest.IDs(got))
			}
		})
	}
}

// TestPublishBatchContiguous: batches published concurrently on one topic
// each reach a subscriber whole, in order, with no update of another batch
// between two of theirs.
func TestPublishBatchContiguous(t *testing.T) {
	for _, st := range allStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Store: st.open(t)})
			s := e.Subscribe(t, hubtest.Topics("t"), nil)
			const publishers, batches, size = 4, 10, 20
			var wg sync.WaitGroup
			errs := make(chan error, publishers)
			for p := range publishers {
				wg.Go(func() {
					for b := range batches {
						batch := make([]herald.Update, size)
						for i := range batch {
							batch[i] = herald.Update{Topics: []string{"t"}, Data: fmt.Sprintf("%d/%d/%d", p, b, i)}
						}
						if _, err := e.Hub.PublishBatch(context.Background(), batch); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("PublishBatch: %v", err)
			}
			for range publishers * batches {
				var p0, b0 int
				for i := range size {
					ev := s.Next(t)
					var p, b, k int
					if _, err := fmt.Sscanf(ev.Data, "%d/%d/%d", &p, &b, &k); err != nil {
						t.Fatalf("unexpected event %+v", ev)
					}
					if i == 0 {
						p0, b0 = p, b
					}
					if p != p0 || b != b0 || k != i {
						t.Fatalf("received %q as update %d of batch %d/%d: batches interleaved or out of order", ev.Data, i, p0, b0)
					}
				}
			}
		})
	}
}

// TestPublishBatchMetrics: the updates of a batch are counted as published
// once stored, and a refused batch counts nothing.
func TestPublishBatchMetrics(t *testing.T) {
	t.Parallel()
	c := newCounters()
	st := memory.New(memory.Options{})
	defer st.Close()
	h := hub.New(st, hub.Options{Logger: discard, Metrics: c})
	defer h.Close(context.Background())
	batch := []herald.Update{update("a", "1"), update("b", "2"), update("c", "3")}
	if _, err := h.PublishBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if _, err := h.PublishBatch(context.Background(), append(batch, herald.Update{})); err == nil {
		t.Fatal("an invalid batch was accepted")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.published != 3 {
		t.Errorf("published = %d, want 3", c.published)
	}
}

// TestPublishBatchAfterClose: a hub that is shutting down refuses batches.
func TestPublishBatchAfterClose(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	defer st.Close()
	h := hub.New(st, hub.Options{Logger: discard})
	h.CloseStreams()
	if _, err := h.PublishBatch(context.Background(), []herald.Update{update("t", "x")}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("PublishBatch while closing = %v, want ErrClosed", err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pos, _, _ := st.Last(context.Background()); pos != "" {
		t.Errorf("a batch was stored while the hub was closing: last %q", pos)
	}
}
