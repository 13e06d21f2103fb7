package hub_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/topic"
)

// trimmingStore is a memory store whose Replay stops with ErrNotHeld after
// a few updates, as a store does when retention removes what it was about
// to read.
type trimmingStore struct {
	*memory.Store
	after int
}

func (s trimmingStore) Replay(ctx context.Context, after string, fn func(herald.Update) error) error {
	n := 0
	errTrimmed := errors.New("trimmed")
	err := s.Store.Replay(ctx, after, func(u herald.Update) error {
		if n == s.after {
			return errTrimmed
		}
		n++
		return fn(u)
	})
	if errors.Is(err, errTrimmed) {
		return herald.ErrNotHeld
	}
	return err
}

// TestReplayTrimmedPartway: when history is trimmed under a replay, the
// subscriber gets what was read, then (asked for) the gap event, then live
// updates: nothing read is dropped.
func TestReplayTrimmedPartway(t *testing.T) {
	t.Parallel()
	st := trimmingStore{Store: memory.New(memory.Options{}), after: 3}
	defer st.Close()
	h := hub.New(st, hub.Options{Logger: discard})
	defer h.Close(context.Background())
	var ids []string
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		u, err := h.Publish(context.Background(), herald.Update{Topics: []string{"t"}, Data: d})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeStream(w, r, hub.Subscription{
			Selectors: []*topic.Selector{topic.MustCompile("t")},
			Resume:    true, LastEventID: ids[0], GapEvent: true,
		})
	}))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Last-Event-ID"); got != ids[0] {
		t.Errorf("Last-Event-ID = %q, want the id asked for, %q", got, ids[0])
	}
	s := hubtest.StartStream(t, resp, cancel)
	defer s.Close()
	for _, want := range []string{"b", "c", "d"} {
		if ev := s.Next(t); ev.Data != want {
			t.Fatalf("got %q, want %q (what was read before the trim)", ev.Data, want)
		}
	}
	if ev := s.Next(t); ev.Type != hub.GapEventType {
		t.Fatalf("got %+v, want the %s event", ev, hub.GapEventType)
	}
	h.Publish(context.Background(), herald.Update{Topics: []string{"t"}, Data: "live"})
	if ev := s.Next(t); ev.Data != "live" {
		t.Fatalf("got %q, want the live update", ev.Data)
	}
}
