//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The tests run every scenario in a tiny configuration (seconds) against a
// hub built from this repository, so that the program cannot rot. They check
// what the scenarios report about correctness (nothing acknowledged lost,
// refusals with a status and Retry-After, stalled streams cut, slow
// subscribers disconnected), never timings: those are the program's
// figures, measured by running it.

var heraldBin string

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" { // startFillers re-executes the test binary
		os.Exit(runWorker(os.Stdin, os.Stdout))
	}
	dir, err := os.MkdirTemp("", "hardening-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, _, err := buildHerald(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	heraldBin = bin
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testEnv(t *testing.T) *env {
	return &env{bin: heraldBin, hubName: "test hub", dir: t.TempDir(), perAddr: 500, rcvbuf: 16 << 10, mss: 1448, progress: testLog{t}}
}

// run runs a scenario with a deadline, logs its report and returns it.
func run(t *testing.T, budget time.Duration, fn func(context.Context) (*report, error)) *report {
	t.Helper()
	r, err := runBounded(t.Context(), budget, fn)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.write(&b)
	t.Log("\n" + b.String())
	return r
}

// wantNothingLost checks the legitimate subscriber's figures.
func wantNothingLost(t *testing.T, r *report) {
	t.Helper()
	if r.values["acked"] == 0 {
		t.Error("no event was acknowledged")
	}
	if r.values["lost"] != 0 {
		t.Errorf("%v acknowledged events were not received", r.values["lost"])
	}
	for _, x := range r.rows {
		if strings.Contains(x.figure, "integrity") && x.verdict != "ok" {
			t.Errorf("%s: %s", x.figure, x.value)
		}
	}
}

func TestSelectors(t *testing.T) {
	c := defaultSelectors()
	c.attackers, c.templates, c.topics, c.rate, c.publishers = 4, 8, 50, 40, 2
	c.baseline, c.attack, c.after, c.drain = time.Second, 2*time.Second, time.Second, 10*time.Second
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	e := testEnv(t)
	r := run(t, c.budget(), func(ctx context.Context) (*report, error) { return runSelectors(ctx, e, c) })
	wantNothingLost(t, r)
	if got := r.values["attackers_ok"]; got != float64(c.attackers) {
		t.Errorf("%v attackers connected, want %d", got, c.attackers)
	}
}

func TestFDs(t *testing.T) {
	c := defaultFDs()
	// 1000 open files: --max-subscribers 900, --max-connections 936 by
	// default.
	c.nofile, c.probes, c.liveRate = 1000, 2, 20
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	e := testEnv(t)
	r := run(t, c.budget(), func(ctx context.Context) (*report, error) { return runFDs(ctx, e, c) })
	wantNothingLost(t, r)
	// Up to --max-subscribers (derived from the open-file limit), with the
	// subscriber connected before.
	if got, limit := r.values["opened"], r.values["subscriber_limit"]; limit == 0 || got != limit-1 {
		t.Errorf("%v subscribers opened, want --max-subscribers (%v) less one", got, limit)
	}
	for _, k := range []string{"subscribe_refused_ok", "healthz_ok", "publish_ok"} {
		if r.values[k] != 1 {
			t.Errorf("%s: not so (see the report)", k)
		}
	}
}

func TestReplays(t *testing.T) {
	c := defaultReplays()
	// A write timeout longer than --replay-wait (2s): the stalled replays
	// hold their slots until the others have been refused.
	c.historyMB, c.clients, c.writeTimeout, c.baseline, c.liveRate = 4, 40, 5*time.Second, time.Second, 20
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	e := testEnv(t)
	r := run(t, c.budget(), func(ctx context.Context) (*report, error) { return runReplays(ctx, e, c) })
	wantNothingLost(t, r)
	if got, limit := r.values["started"], r.values["replays_limit"]; limit == 0 || got != limit {
		t.Errorf("%v replays started, want --max-replays (%v)", got, limit)
	}
	if r.values["cut"] != 1 {
		t.Error("the hub did not close the stalled replays")
	}
}

func TestSlow(t *testing.T) {
	c := defaultSlow()
	c.subscribers, c.rate, c.duration = 20, 30, 2*time.Second // 60 events of 64 KiB: past --queue-bytes
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	e := testEnv(t)
	r := run(t, c.budget(), func(ctx context.Context) (*report, error) { return runSlow(ctx, e, c) })
	wantNothingLost(t, r)
	if got := r.values["slow"]; got != float64(c.subscribers) {
		t.Errorf("%v subscribers disconnected as slow, want %d", got, c.subscribers)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	p := payload(3, 42, 100)
	if len(p) != 100 {
		t.Errorf("payload is %d bytes, want 100", len(p))
	}
	pub, seq, sent, ok := parsePayload(p)
	if !ok || pub != 3 || seq != 42 || sent <= 0 {
		t.Errorf("parsePayload(%q) = %d, %d, %d, %v", p, pub, seq, sent, ok)
	}
	if _, _, _, ok := parsePayload("not ours"); ok {
		t.Error("a foreign payload parsed")
	}
}
