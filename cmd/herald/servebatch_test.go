package main

import (
	"io"
	"strings"
	"testing"
)

// TestServeBatchFlags: --max-batch and --max-batch-body bound the batch
// endpoint of `herald serve`, which `herald pub --batch` publishes to;
// --max-batch cannot exceed what a store takes in one batch.
func TestServeBatchFlags(t *testing.T) {
	t.Parallel()
	h := serveHub(t, "--jwt-key="+serveTestKey, "--max-batch=2", "--max-batch-body=100")
	out, errOut, err := pub(t, strings.NewReader(ndjsonLines(4)), "--batch", "--batch-size=2", "--hub", h.base, "--jwt-key", serveTestKey)
	if err != nil || strings.Count(out, "\n") != 4 {
		t.Fatalf("pub --batch --batch-size=2: %v (%s), printed %q; want 4 ids", err, errOut, out)
	}
	_, _, err = pub(t, strings.NewReader(ndjsonLines(3)), "--batch", "--batch-size=3", "--hub", h.base, "--jwt-key", serveTestKey)
	if err == nil || !strings.Contains(err.Error(), "line 3: more than 2 updates in one batch") || !strings.Contains(err.Error(), "413") ||
		!strings.Contains(err.Error(), "a smaller --batch-size") {
		t.Errorf("--max-batch=2, a batch of 3: %v, want a 413 naming line 3, suggesting a smaller --batch-size", err)
	}
	_, _, err = pub(t, strings.NewReader(`{"topic":"t","data":"`+strings.Repeat("x", 100)+`"}`), "--batch", "--hub", h.base, "--jwt-key", serveTestKey)
	if err == nil || !strings.Contains(err.Error(), "413") || !strings.Contains(err.Error(), "100 bytes") || !strings.Contains(err.Error(), "a smaller --batch-size") {
		t.Errorf("--max-batch-body=100, a longer body: %v, want a 413 naming the limit", err)
	}

	var c serveConfig
	fs := serveFlags(&c)
	fs.SetOutput(io.Discard)
	for _, arg := range []string{"--max-batch=1001", "--max-batch=-1", "--max-batch-body=0"} {
		if err := parseFlags(fs, []string{arg}); err == nil || exitCode(err) != 2 {
			t.Errorf("%s: %v, want a usage error", arg, err)
		}
	}
}
