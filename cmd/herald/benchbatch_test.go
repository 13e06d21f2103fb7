package main

import (
	"strings"
	"testing"

	"github.com/herald-sse/herald/loadgen"
)

// TestBenchBatch: `herald bench --batch N` publishes in batches of N to
// the hub's batch endpoint; every event is delivered once, in order, and
// the result says so.
func TestBenchBatch(t *testing.T) {
	base, _ := startServe(t, "--addr=127.0.0.1:0", "--store=memory:", "--jwt-key=bench-test-secret", "--heartbeat=0", "--demo=false")
	res, stderr, err := bench(t, "--hub", base, "--jwt-key", "bench-test-secret",
		"--subscribers", "40", "--topics", "40", "--publishers", "2", "--batch", "20", "--rate", "4000",
		"--duration", "500ms", "--warmup", "100ms", "--settle", "50ms")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	if res.Batch != 20 || res.TotalPublished == 0 || res.TotalPublished%20 != 0 || res.Lost != 0 || res.OutOfOrder != 0 || res.Received != res.Expected {
		t.Errorf("batch %d, published %d, expected %d, received %d, lost %d, out of order %d",
			res.Batch, res.TotalPublished, res.Expected, res.Received, res.Lost, res.OutOfOrder)
	}
}

// TestBenchBatchScenarios: the presets Db and Eb are D and E with batches
// of 100; --batch overrides a preset.
func TestBenchBatchScenarios(t *testing.T) {
	for name, base := range map[string]string{"topics-batch": "topics", "Db": "topics", "durable-batch": "durable", "eb": "durable"} {
		var c benchConfig
		fs := benchFlags(&c)
		if err := fs.Parse([]string{"--scenario", name}); err != nil {
			t.Fatal(err)
		}
		cfg, err := c.config(fs)
		want := loadgen.Scenarios[base].Config
		if err != nil || cfg.Batch != 100 || cfg.Subscribers != want.Subscribers || cfg.Topics != want.Topics || cfg.Publishers != want.Publishers {
			t.Errorf("--scenario %s: %v, %+v; want %s with batches of 100", name, err, cfg, base)
		}
	}
	var c benchConfig
	fs := benchFlags(&c)
	_ = fs.Parse([]string{"--scenario", "Db", "--batch", "10"})
	if cfg, err := c.config(fs); err != nil || cfg.Batch != 10 {
		t.Errorf("--scenario Db --batch 10: %v, batch %d", err, cfg.Batch)
	}
	c = benchConfig{}
	fs = benchFlags(&c)
	_ = fs.Parse([]string{"--scenario", "D"})
	if cfg, _ := c.config(fs); cfg.Batch > 1 {
		t.Errorf("--scenario D publishes in batches of %d, want one event per request", cfg.Batch)
	}
	var help strings.Builder
	fs.SetOutput(&help)
	fs.Usage()
	if !strings.Contains(help.String(), "Db topics-batch") || !strings.Contains(help.String(), "-batch") {
		t.Errorf("help does not list the batch scenarios and --batch:\n%s", help.String())
	}
}
