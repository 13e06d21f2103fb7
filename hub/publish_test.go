package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/store/memory"
)

// TestPublishInProcess: a Go program publishes with Hub.Publish, and
// subscribers over HTTP receive the update, on every delivery path.
func TestPublishInProcess(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m, Store: memory.New(memory.Options{Instance: "inproc"})})
			s := e.Subscribe(t, hubtest.Topics("https://example.com/books/{id}"), nil)
			stored, err := e.Hub.Publish(context.Background(), herald.Update{
				Topics: []string{"https://example.com/books/1"},
				Type:   "book.updated",
				Data:   "in process",
				Retry:  time.Second,
			})
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if inst, seq, ok := herald.ParseID(stored.ID); !ok || inst != "inproc" || seq != stored.Seq || stored.Time.IsZero() {
				t.Errorf("Publish returned %+v: want a generated id matching its Seq, and a Time", stored)
			}
			ev := s.Next(t)
			if ev.ID != stored.ID || ev.Type != "book.updated" || ev.Data != "in process" || ev.Retry != time.Second {
				t.Errorf("received %+v, want the published update %+v", ev, stored)
			}
		})
	}
}

// TestPublishInvalid: Hub.Publish validates the update and stores nothing
// invalid.
func TestPublishInvalid(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	h := hub.New(st, hub.Options{Logger: discard})
	defer st.Close()
	defer h.Close(context.Background())
	for _, u := range []herald.Update{
		{},
		{Topics: []string{""}},
		{Topics: []string{"t"}, ID: "a\nb"},
		{Topics: []string{"t"}, ID: "#a"},
		{Topics: []string{"t"}, Type: "a\rb"},
		{Topics: []string{"t"}, Retry: -time.Second},
	} {
		if _, err := h.Publish(context.Background(), u); !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("Publish(%+v) = %v, want ErrInvalid", u, err)
		}
	}
	if last, _, _ := st.Last(context.Background()); last != "" {
		t.Errorf("invalid updates were stored: last %q", last)
	}
}

// TestPublishAfterClose: a closed hub refuses to publish.
func TestPublishAfterClose(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	defer st.Close()
	h := hub.New(st, hub.Options{Logger: discard})
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish(context.Background(), herald.Update{Topics: []string{"t"}}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}
