package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/topic"
)

// TestServeStream drives Hub.ServeStream directly, as a Go program mounting
// the hub without the mercure package would: the Subscription's selectors,
// CanReceive, ID, Payload, OnOpen and OnClose do what they document.
func TestServeStream(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	defer st.Close()
	h := hub.New(st, hub.Options{Logger: discard})
	defer h.Close(context.Background())

	opened := make(chan string, 4)
	closed := make(chan hub.CloseReason, 4)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		h.ServeStream(w, r, hub.Subscription{
			ID:         id,
			Selectors:  []*topic.Selector{topic.MustCompile("https://example.com/{x}")},
			CanReceive: func(topics []string) bool { return slices.Contains(topics, "https://example.com/allowed") },
			Payload:    json.RawMessage(`{"n":1}`),
			OnOpen:     func() { opened <- id },
			OnClose:    func(r hub.CloseReason) { closed <- r },
		})
	}))
	defer ts.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"?id=sub-1", nil)
	resp, err := ts.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %v %v", resp, err)
	}
	defer resp.Body.Close()
	if got := <-opened; got != "sub-1" {
		t.Errorf("OnOpen for %q", got)
	}
	infos := h.SubscriberInfos()
	if len(infos) != 1 || infos[0].ID != "sub-1" || !slices.Equal(infos[0].Selectors, []string{"https://example.com/{x}"}) || string(infos[0].Payload) != `{"n":1}` {
		t.Errorf("SubscriberInfos = %+v", infos)
	}

	for _, u := range []herald.Update{
		{Topics: []string{"https://example.com/public"}, Data: "public"},
		{Topics: []string{"https://example.com/denied"}, Data: "denied", Private: true},
		{Topics: []string{"https://example.com/allowed"}, Data: "allowed", Private: true},
		{Topics: []string{"https://other.example/x"}, Data: "other topic"},
		{Topics: []string{"https://example.com/last"}, Data: "last"},
	} {
		if _, err := h.Publish(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	dec := sse.NewDecoder(resp.Body)
	var got []string
	for len(got) == 0 || got[len(got)-1] != "last" {
		ev, err := dec.Decode()
		if err != nil {
			t.Fatalf("decode: %v (after %q)", err, got)
		}
		got = append(got, ev.Data)
	}
	if want := []string{"public", "allowed", "last"}; !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}

	cancel()
	select {
	case r := <-closed:
		if r != hub.ReasonClient {
			t.Errorf("OnClose(%q), want %q", r, hub.ReasonClient)
		}
	case <-time.After(hubtest.WaitTimeout):
		t.Fatal("OnClose was not called after the client left")
	}
	if infos := h.SubscriberInfos(); len(infos) != 0 {
		t.Errorf("SubscriberInfos after the client left = %+v", infos)
	}
}

// TestServeStreamRefusals: ServeStream answers with an error instead of a
// stream when the subscription cannot be served.
func TestServeStreamRefusals(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	defer st.Close()
	h := hub.New(st, hub.Options{Logger: discard})
	defer h.Close(context.Background())
	for _, tc := range []struct {
		name string
		sub  hub.Subscription
		want int
	}{
		{"no selector", hub.Subscription{}, http.StatusBadRequest},
		{"expired", hub.Subscription{Selectors: []*topic.Selector{topic.MustCompile("t")}, Expires: time.Now().Add(-time.Second)}, http.StatusUnauthorized},
	} {
		rec := httptest.NewRecorder()
		h.ServeStream(rec, httptest.NewRequest(http.MethodGet, "/", nil), tc.sub)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.want || strings.TrimSpace(string(body)) == "" {
			t.Errorf("%s: %d %q, want %d with a message", tc.name, rec.Code, body, tc.want)
		}
		if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("%s: an error answered with Content-Type %q", tc.name, ct)
		}
	}
	if n := h.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after refusals", n)
	}
}

// TestHTTP10: an HTTP/1.0 client (no chunked encoding) gets a stream
// delimited by the connection's end.
func TestHTTP10(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	conn, err := net.Dial("tcp", e.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET %s?topic=t HTTP/1.0\r\nHost: hub\r\n\r\n", mercure.Path); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(hubtest.WaitTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMinor != 0 || len(resp.TransferEncoding) != 0 || !resp.Close {
		t.Fatalf("HTTP/1.0 response: %s %s, Transfer-Encoding %q, Close %v", resp.Proto, resp.Status, resp.TransferEncoding, resp.Close)
	}
	id := e.PublishData(t, "to an HTTP/1.0 client", "t")
	ev, err := sse.NewDecoder(resp.Body).Decode()
	if err != nil || ev.ID != id || ev.Data != "to an HTTP/1.0 client" {
		t.Fatalf("received %+v (%v), want %q", ev, err, id)
	}
}
