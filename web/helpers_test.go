package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/web"
)

var quiet = slog.New(slog.DiscardHandler)

// demoServer is a hub with the demo mounted at the root of an httptest
// server, and the demo's Run loop running.
type demoServer struct {
	URL  string
	Hub  *hub.Hub
	Demo *web.Demo
}

// newDemoServer starts a demo on an in-memory store. cfg.Hub is filled in.
func newDemoServer(t *testing.T, cfg web.Config) *demoServer {
	t.Helper()
	store := memory.New(memory.Options{})
	h := hub.New(store, hub.Options{Heartbeat: -1, ShutdownRetry: 100 * time.Millisecond, Logger: quiet})
	cfg.Hub = h
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	d, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		if err := h.Close(cctx); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
		ts.Close()
		_ = store.Close()
	})
	return &demoServer{URL: ts.URL, Hub: h, Demo: d}
}

// publish publishes data to topic on the hub, directly.
func (s *demoServer) publish(t *testing.T, topic, typ, data string) herald.Update {
	t.Helper()
	u, err := s.Hub.Publish(context.Background(), herald.Update{Topics: []string{topic}, Type: typ, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// stream is an open event stream read in the background.
type stream struct {
	resp   *http.Response
	events chan sse.Event
	cancel context.CancelFunc
}

// openStream GETs rawURL with header and decodes its events until the test
// ends.
func openStream(t *testing.T, rawURL string, header http.Header) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %s: %s", rawURL, resp.Status, body)
	}
	s := &stream{resp: resp, events: make(chan sse.Event, 64), cancel: cancel}
	go func() {
		defer close(s.events)
		dec := sse.NewDecoder(resp.Body)
		for {
			ev, err := dec.Decode()
			if err != nil {
				return
			}
			s.events <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		for range s.events {
		}
	})
	return s
}

// next returns the next event, failing the test after 5 s.
func (s *stream) next(t *testing.T) sse.Event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	panic("unreachable")
}

// post sends body with contentType to rawURL from the local address ip
// ("" for the default) and returns the status, the Retry-After header and
// the body.
func post(t *testing.T, rawURL, contentType, body, ip string) (int, http.Header, string) {
	t.Helper()
	client := http.DefaultClient
	if ip != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		client = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		defer client.CloseIdleConnections()
	}
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}
