package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/internal/hubtest"
)

// lineWriter keeps what is written to it and signals, once, the first line
// containing mark.
type lineWriter struct {
	hubtest.SyncBuffer
	mark string
	seen chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n, err := w.SyncBuffer.Write(p)
	if strings.Contains(w.String(), w.mark) {
		select {
		case <-w.seen:
		default:
			close(w.seen)
		}
	}
	return n, err
}

// TestServeStoreLogsThroughTheHubsLogger: the embedded store logs through
// the hub's logger, in its format and at its level (issue 13 item 12), not
// through slog.Default().
func TestServeStoreLogsThroughTheHubsLogger(t *testing.T) {
	t.Parallel()
	logs := &lineWriter{mark: "herald is listening", seen: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"serve", "--addr=127.0.0.1:0", "--store=bolt:", "--data-dir=" + t.TempDir(), "--demo=false", "--log-format=json"},
			strings.NewReader(""), &hubtest.SyncBuffer{}, logs)
	}()
	select {
	case <-logs.seen:
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(serveWait):
		cancel()
		t.Fatalf("serve did not log that it listens within %v", serveWait)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve: %v", err)
	}
	found := false
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Msg, Instance string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON (--log-format=json): %q", line)
		}
		if rec.Msg == "bolt: opened the history" && rec.Instance != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the hub's log has no line from the embedded store (\"bolt: opened the history\"):\n%s", logs.String())
	}
}
