package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

// TestUnsentBytesBounded: a client that stops reading makes the hub's kernel
// hold at most about --unsent-bytes of unsent data for its connection (plus
// what is in flight to the client's receive window), not the send buffer's
// maximum (tcp_wmem: 4 MiB by default), so that stalled connections cost the
// machine little more than the hub's own --queue-bytes.
func TestUnsentBytesBounded(t *testing.T) {
	const unsent = 64 << 10
	with := acceptedBeforeStall(t, unsent)
	without := acceptedBeforeStall(t, 0)
	t.Logf("a connection whose client never reads accepted %d KiB with --unsent-bytes %d KiB, %d KiB without", with>>10, unsent>>10, without>>10)
	// In flight: at most the client's 16 KiB receive window (doubled by
	// the kernel) and a segment or two; unsent: the bound and the write
	// that crossed it.
	if limit := 4 * unsent; with > limit {
		t.Fatalf("the kernel accepted %d bytes for a stalled connection, want at most %d", with, limit)
	}
}

// acceptedBeforeStall accepts a connection through the hub's listener with
// the given bound on unsent bytes (0: none), from a client with a 16 KiB
// receive buffer that never reads, and returns how many bytes writes to it
// could hand the kernel before they stalled.
func acceptedBeforeStall(t *testing.T, unsent int) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(ln, 0, 0, nil, false, discardLogger(), nopListenerMetrics{})
	l.unsent = unsent
	defer l.Close()

	dialSmallReceiveBuffer(t, ln.Addr().String())
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	chunk := make([]byte, 16<<10)
	total := 0
	for total < 64<<20 {
		if err := conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Write(chunk)
		total += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("64 MiB written to a client that never reads")
	return 0
}

// TestServeUnsentBytes: through herald serve, a subscriber that never reads
// is disconnected as slow once its backlog passes --queue-bytes plus about
// --unsent-bytes, rather than once it has also filled a send buffer of
// megabytes in the kernel, which no hub limit counted.
func TestServeUnsentBytes(t *testing.T) {
	t.Parallel()
	base, _ := runServeCommand(t, "--jwt-key="+serveTestKey, "--unsent-bytes=65536", "--queue-bytes=262144")
	tok := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	addr := strings.TrimPrefix(base, "http://")
	stalled := dialSmallReceiveBuffer(t, addr)
	fmt.Fprintf(stalled, "GET %s?topic=t HTTP/1.1\r\nHost: %s\r\n\r\n", mercure.Path, addr)
	waitMetric(t, base, "herald_subscribers", 1)

	// 16 events of 48 KiB: 768 KiB, three times --queue-bytes, a fifth of
	// what the kernel would have taken without --unsent-bytes.
	data := strings.Repeat("x", 48<<10)
	for i := range 16 {
		if status, body := servePublish(t, base, tok, url.Values{"topic": {"t"}, "data": {data}}); status != http.StatusOK {
			t.Fatalf("publish %d: %d %q", i, status, body)
		}
	}
	waitMetric(t, base, `herald_subscribers_closed_total{reason="slow"}`, 1)
}

// waitMetric waits until series reaches want in base's /metrics.
func waitMetric(t *testing.T, base, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(serveWait)
	for {
		_, metrics := serveGet(t, base+"/metrics", nil)
		got := metricValue(t, metrics, series)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %v, want %v", series, got, serveWait, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialSmallReceiveBuffer connects to addr with a 16 KiB receive buffer, as
// a client across a network that stops reading would have.
func dialSmallReceiveBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type nopListenerMetrics struct{}

func (nopListenerMetrics) AcceptError()       {}
func (nopListenerMetrics) ConnectionRefused() {}
