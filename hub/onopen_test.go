package hub_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/topic"
)

// TestOnOpenPublicationsReachTheStream: what OnOpen publishes (a greeting,
// a subscription event) reaches the stream being opened, fresh or resumed,
// and only once, although a fresh stream starts after the newest update.
func TestOnOpenPublicationsReachTheStream(t *testing.T) {
	t.Parallel()
	for _, resume := range []bool{false, true} {
		st := memory.New(memory.Options{})
		defer st.Close()
		h := hub.New(st, hub.Options{Logger: discard})
		defer h.Close(context.Background())
		older, err := h.Publish(context.Background(), herald.Update{Topics: []string{"greet"}, Data: "older"})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeStream(w, r, hub.Subscription{
				Selectors:   []*topic.Selector{topic.MustCompile("greet")},
				Resume:      resume,
				LastEventID: older.ID,
				OnOpen: func() {
					if _, err := h.Publish(r.Context(), herald.Update{Topics: []string{"greet"}, Type: "welcome", Data: "hello"}); err != nil {
						t.Error(err)
					}
				},
			})
		}))
		defer ts.Close()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		s := hubtest.StartStream(t, resp, cancel)
		if ev := s.Next(t); ev.Type != "welcome" || ev.Data != "hello" {
			t.Errorf("resume=%v: first event = %+v, want the welcome published by OnOpen", resume, ev)
		}
		h.Publish(context.Background(), herald.Update{Topics: []string{"greet"}, Data: "after"})
		if ev := s.Next(t); ev.Data != "after" {
			t.Errorf("resume=%v: second event = %+v, want \"after\" (the welcome must arrive once)", resume, ev)
		}
		s.Close()
	}
}
