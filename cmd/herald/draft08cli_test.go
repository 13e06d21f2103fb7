package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/internal/hubtest"
)

// TestPubSubDraft08: herald pub and herald sub speak draft 08 on request:
// pub signs an access token of --issuer with --jwt-key (audience: the hub's
// URL) or sends --token; sub subscribes with match= (--topic) and
// match_urlpattern= (--urlpattern), with an access token, and reports the
// hub's Mercure-Last-Event-ID.
func TestPubSubDraft08(t *testing.T) {
	t.Parallel()
	h := serve08(t)
	subTok := accessToken(t, h.hubURL08(), time.Hour, subscribe08(nil, exact08("*")))

	ctx, cancel := context.WithTimeout(t.Context(), serveWait)
	defer cancel()
	connected, received := make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	var stderr, stdout hubtest.SyncBuffer
	errw := writerFunc(func(p []byte) (int, error) {
		stderr.Write(p)
		if strings.Contains(string(p), "connected (200 OK)") {
			once1.Do(func() { close(connected) })
		}
		return len(p), nil
	})
	var events []subJSON
	var mu sync.Mutex
	out := writerFunc(func(p []byte) (int, error) {
		stdout.Write(p)
		var ev subJSON
		if json.Unmarshal(p, &ev) == nil {
			mu.Lock()
			events = append(events, ev)
			if len(events) == 2 {
				once2.Do(func() { close(received) })
			}
			mu.Unlock()
		}
		return len(p), nil
	})
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sub", "--draft", "08", "--hub", h.base, "--topic", "https://example.com/private",
			"--urlpattern", "https://example.com/books/:id", "--token", subTok, "--json"}, strings.NewReader(""), out, errw)
	}()
	select {
	case <-connected:
	case err := <-done:
		t.Fatalf("sub ended: %v; stderr %q", err, stderr.String())
	case <-ctx.Done():
		t.Fatalf("sub did not connect; stderr %q", stderr.String())
	}
	if !strings.Contains(stderr.String(), "server Mercure-Last-Event-ID: earliest") {
		t.Errorf("sub does not report the hub's Mercure-Last-Event-ID: %q", stderr.String())
	}

	// Signed by pub with the issuer's key, for the topics it publishes to.
	id1, errOut, err := pub(t, nil, "--draft", "08", "--hub", h.base, "--topic", "https://example.com/books/1", "--data", "signed",
		"--jwt-key", issuerKey08, "--issuer", issuer08)
	if err != nil {
		t.Fatalf("pub --draft 08 --jwt-key: %v %s", err, errOut)
	}
	// A token given as is, private.
	pubTok := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("https://example.com/private")))
	id2, errOut, err := pub(t, nil, "--draft", "08", "--hub", h.base, "--topic", "https://example.com/private", "--data", "given", "--private", "--token", pubTok)
	if err != nil {
		t.Fatalf("pub --draft 08 --token: %v %s", err, errOut)
	}
	select {
	case <-received:
	case <-ctx.Done():
		t.Fatalf("sub printed %q", stdout.String())
	}
	cancel()
	<-done
	want := []subJSON{{Event: "message", Data: "signed", ID: strings.TrimSpace(id1)}, {Event: "message", Data: "given", ID: strings.TrimSpace(id2)}}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("sub printed %+v, want %+v", events, want)
	}

	// A draft-07 publish token is refused by the draft-08 hub's rules, and
	// the mistakes are usage errors.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--draft", "09", "--topic", "t"}, "--draft"},
		{[]string{"--draft", "08", "--topic", "t", "--jwt-key", "k"}, "--issuer"},
	} {
		if _, _, err := pub(t, nil, append([]string{"--hub", h.base, "--data", "x"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pub %q: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
	if _, _, err := sub(t, t.Context(), "", "--hub", h.base, "--urlpattern", "/a/:b"); err == nil || !strings.Contains(err.Error(), "--draft 08") {
		t.Errorf("sub --urlpattern without --draft 08: %v", err)
	}
}

// TestBenchDraft08: herald bench measures a hub in draft 08 (match=, access
// tokens it signs as --issuer), resuming with Mercure-Last-Event-ID.
func TestBenchDraft08(t *testing.T) {
	h := serve08(t, "--heartbeat=0")
	res, stderr, err := bench(t, "--hub", h.base, "--draft", "08", "--jwt-key", issuerKey08, "--issuer", issuer08, "--auth-subscribers",
		"--subscribers", "20", "--publishers", "2", "--rate", "1000",
		"--duration", "1s", "--warmup", "200ms", "--settle", "100ms", "--storm")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	if res.Connected != 20 || res.PublishErrors != 0 || res.Lost != 0 || res.OutOfOrder != 0 || res.Received != res.Expected || res.Received == 0 {
		t.Errorf("connected %d, publish errors %d (%s), lost %d, out of order %d, received %d of %d",
			res.Connected, res.PublishErrors, res.FirstError, res.Lost, res.OutOfOrder, res.Received, res.Expected)
	}
	// The subscribers spoke draft 08: the hub counts them as such.
	_, metrics := serveGet(t, h.base+"/metrics", nil)
	if got := metricValue(t, metrics, `herald_auth_failures_total{kind="invalid"}`); got != 0 {
		t.Errorf("%v tokens refused", got)
	}
}
