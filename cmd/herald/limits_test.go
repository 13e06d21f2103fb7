package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
)

// TestServeAtTheLimits: at --max-subscribers a new subscriber is refused at
// once with a 503, Retry-After and a message, while /healthz, /metrics and
// publishing go on; at --max-connections a new connection is answered 503
// and closed at once. Both are counted in /metrics, with the limits.
func TestServeAtTheLimits(t *testing.T) {
	t.Parallel()
	base, _ := runServeCommand(t, "--jwt-key="+serveTestKey, "--max-subscribers=3", "--max-connections=8")
	tok := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	var streams []*serveStream
	for range 3 {
		streams = append(streams, serveSubscribe(t, base, "topic=t", nil))
	}
	resp, body := serveGet(t, base+mercure.Path+"?topic=t", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "subscribers") {
		t.Errorf("a 4th subscriber: %s, Retry-After %q, %q; want 503 with Retry-After and a message", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	if resp, body := serveGet(t, base+"/healthz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz at the subscriber limit: %s %q", resp.Status, body)
	}
	if status, body := servePublish(t, base, tok, map[string][]string{"topic": {"t"}, "data": {"at the limit"}}); status != http.StatusOK {
		t.Errorf("publish at the subscriber limit: %d %q", status, body)
	}
	for _, s := range streams {
		if ev := s.next(t); ev.Data != "at the limit" {
			t.Errorf("a subscriber received %+v", ev)
		}
	}
	_, metrics := serveGet(t, base+"/metrics", nil)
	for series, want := range map[string]float64{
		`herald_subscribers_refused_total{reason="limit"}`: 1,
		"herald_subscriber_limit":                          3,
		"herald_connections_limit":                         8,
	} {
		if got := metricValue(t, metrics, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	// Fill the connections: the next one is refused.
	http.DefaultClient.CloseIdleConnections()
	addr := strings.TrimPrefix(base, "http://")
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		if n := readMetric(t, base, c, "herald_connections"); n >= 8 {
			break
		}
		if len(idle) > 8 {
			t.Fatalf("%d connections open and not at the limit of 8", len(idle))
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(serveWait))
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	got, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a connection over the limit: %v, want a 503", err)
	}
	b, _ := io.ReadAll(got.Body)
	if got.StatusCode != http.StatusServiceUnavailable || got.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "connections") {
		t.Errorf("a connection over the limit: %s %q, want 503 with Retry-After", got.Status, b)
	}
	// Once connections close, requests are served again, and the refusal
	// was counted.
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	metrics = metricsOnceServed(t, base)
	if got := metricValue(t, metrics, "herald_connections_refused_total"); got < 1 {
		t.Errorf("herald_connections_refused_total = %v, want at least 1", got)
	}
}

// metricsOnceServed waits until the hub at base serves /metrics again
// after refusing connections, and returns the page. While the hub still
// refuses, its 503 may arrive before the request is written, which the
// client reports as an error: that is a refusal too, so it tries again.
func metricsOnceServed(t *testing.T, base string) string {
	t.Helper()
	deadline := time.Now().Add(serveWait)
	for {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics after the connections closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readMetric reads a series of /metrics over conn, a connection of the
// caller's (so that it is one of those counted).
func readMetric(t *testing.T, base string, conn net.Conn, series string) float64 {
	t.Helper()
	conn.SetDeadline(time.Now().Add(serveWait))
	fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(base, "http://"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return metricValue(t, string(b), series)
}

// TestServeOutOfFileDescriptors: a hub whose process runs out of file
// descriptors (no connection limit, a tiny open-file limit) answers the
// connections it cannot accept with a 503 at once instead of leaving them
// waiting, logs it at warn level, and counts it; once descriptors are free
// it serves again.
func TestServeOutOfFileDescriptors(t *testing.T) {
	t.Parallel()
	bin := heraldBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `ulimit -n 64 && exec "$0" "$@"`, bin, "serve",
		"--addr=127.0.0.1:0", "--store=memory:", "--demo=false", "--log-format=json", "--jwt-key=k",
		"--max-connections=-1", "--max-subscribers=-1")
	cmd.Dir = t.TempDir()
	logs := &hubtest.SyncBuffer{}
	logURL := newLogURL()
	cmd.Stderr = io.MultiWriter(logs, logURL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()
	var l listening
	select {
	case l = <-logURL.url:
	case <-time.After(serveWait):
		t.Fatalf("the hub did not start:\n%s", logs.String())
	}
	addr := strings.TrimPrefix(l.URL, "http://")
	// Open every connection first (the hub closes idle ones after
	// --header-timeout), then see which were answered.
	var conns []net.Conn
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// A connection the hub could accept waits for its request (no answer
	// within a second); one it could not is answered 503 at once.
	answers := make(chan error, len(conns))
	for _, c := range conns {
		go func() {
			c.SetReadDeadline(time.Now().Add(time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil && resp.StatusCode != http.StatusServiceUnavailable {
				err = fmt.Errorf("answered %s", resp.Status)
			}
			answers <- err
		}()
	}
	refused := 0
	for range conns {
		var ne net.Error
		switch err := <-answers; {
		case err == nil:
			refused++
		case errors.As(err, &ne) && ne.Timeout():
		default:
			t.Fatalf("a connection: %v", err)
		}
	}
	if refused == 0 {
		t.Fatal("no connection was refused with a 503 with 100 connections and 64 file descriptors")
	}
	for _, c := range conns {
		c.Close()
	}
	metrics := metricsOnceServed(t, l.URL)
	if got := metricValue(t, metrics, "herald_accept_errors_total"); got < 1 {
		t.Errorf("herald_accept_errors_total = %v, want at least 1", got)
	}
	if got := metricValue(t, metrics, "herald_connections_refused_total"); got < float64(refused) {
		t.Errorf("herald_connections_refused_total = %v, want at least %d", got, refused)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"accepting a connection failed`) {
		t.Errorf("no warning about failed accepts in the log")
	}
}

// TestServeLimitFlags: every limit is a flag (and a HERALD_ variable), in
// --help.
func TestServeLimitFlags(t *testing.T) {
	t.Parallel()
	var stdout strings.Builder
	if err := run(context.Background(), []string{"serve", "--help"}, strings.NewReader(""), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"max-connections", "max-client-connections", "max-subscribers", "max-client-subscribers", "trusted-proxies", "max-templates", "max-client-templates", "max-selector-bytes",
		"queue-bytes", "queued-bytes", "unsent-bytes", "max-replays", "replay-wait", "max-data", "body-timeout", "header-timeout", "idle-timeout",
		"anonymous-subscription-events"} {
		if !strings.Contains(stdout.String(), "-"+name) {
			t.Errorf("--help lacks --%s", name)
		}
	}
}

// TestServeClientConnectionLimit: one address holds at most
// --max-client-connections connections; the next is answered 429 and closed
// at once, while another address is served; a proxy in --trusted-proxies
// is not limited (its connections carry many clients).
func TestServeClientConnectionLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		refused bool
	}{
		{"limited", []string{"--max-client-connections=3"}, true},
		{"trusted proxy", []string{"--max-client-connections=3", "--trusted-proxies=127.0.0.1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := runServeCommand(t, tc.args...)
			addr := strings.TrimPrefix(base, "http://")
			dial := func(from string) net.Conn {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			// Three connections from 127.0.0.1, each counted (it answers).
			for range 3 {
				readMetric(t, base, dial("127.0.0.1"), "herald_connections")
			}
			get := func(c net.Conn) (*http.Response, error) {
				c.SetDeadline(time.Now().Add(serveWait))
				fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
				return http.ReadResponse(bufio.NewReader(c), nil)
			}
			resp, err := get(dial("127.0.0.1"))
			if tc.refused {
				if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
					t.Errorf("a 4th connection from one address: %v %v, want 429 with Retry-After", resp, err)
				}
			} else if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("a 4th connection from a trusted proxy: %v %v, want 200", resp, err)
			}
			if resp, err := get(dial("127.0.0.2")); err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("a connection from another address: %v %v, want 200", resp, err)
			}
		})
	}
}
