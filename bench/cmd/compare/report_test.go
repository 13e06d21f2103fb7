package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/herald-sse/herald/loadgen"
)

// TestReportText: the report's fixed text does not send readers to the
// project's issue tracker to make sense of it.
func TestReportText(t *testing.T) {
	r := &report{o: options{runs: 1}}
	issue := regexp.MustCompile(`(?i)\bissues? #?\d+`)
	for name, text := range map[string]string{"head": r.markdownHead(), "notes": notes} {
		if m := issue.FindString(text); m != "" {
			t.Errorf("the report's %s refers to %q", name, m)
		}
	}
}

// TestReportBatchRows: the batch scenarios run on Herald alone; their rows
// put Herald's batch figures next to the peers' figures for the same
// scenario one update per request (marked with its letter), and Herald's
// advantage is taken against those.
func TestReportBatchRows(t *testing.T) {
	impls := []string{"herald-memory", "herald-bolt", "mercure", "mercure-bolt"}
	var plans []plan
	for _, name := range []string{"topics", "topics-batch", "durable", "durable-batch"} {
		p, err := planFor(name, true)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	for _, p := range plans[1:2] {
		if p.applies("mercure") || !p.applies("herald-memory") || p.cfg.Batch != 100 {
			t.Errorf("%s: applies to mercure %v, to herald-memory %v, batch %d; want Herald only, batches of 100", p.name, p.applies("mercure"), p.applies("herald-memory"), p.cfg.Batch)
		}
	}
	if plans[3].applies("herald-memory") || !plans[3].applies("herald-bolt") {
		t.Error("durable-batch must run on the durable Herald only")
	}
	res := func(scenario, impl string, rate float64) runResult {
		return runResult{Scenario: scenario, Impl: impl, Run: 1, Result: &loadgen.Result{DeliveryRate: rate, PublishRate: rate}}
	}
	r := &report{o: options{runs: 1, impls: impls}, plans: plans, results: []runResult{
		res("topics", "herald-memory", 20e3), res("topics", "herald-bolt", 12e3), res("topics", "mercure", 8e3), res("topics", "mercure-bolt", 1e3),
		res("topics-batch", "herald-memory", 160e3), res("topics-batch", "herald-bolt", 100e3),
		res("durable", "herald-bolt", 13e3), res("durable", "mercure-bolt", 2e3),
		res("durable-batch", "herald-bolt", 120e3),
	}}
	figs, ratios, _, _, _, _ := r.tables()
	find := func(rows []row, label, figure string) []string {
		for _, rw := range rows {
			if rw.cells[0] == label && rw.cells[1] == figure {
				return rw.cells
			}
		}
		t.Fatalf("no row %q %q", label, figure)
		return nil
	}
	got := find(figs, "Db topics-batch", "deliveries/s")
	if want := []string{"Db topics-batch", "deliveries/s", "160.0 k", "100.0 k", "8.0 k (D)", "1.0 k (D)"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("figures row %q, want %q", got, want)
	}
	got = find(ratios, "Db topics-batch", "deliveries/s")
	if want := []string{"Db topics-batch", "deliveries/s", "×20.00", "×100.00"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ratios row %q, want %q", got, want)
	}
	got = find(figs, "Eb durable-batch", "publishes/s")
	if want := []string{"Eb durable-batch", "publishes/s", "—", "120.0 k", "—", "2.0 k (E)"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("figures row %q, want %q", got, want)
	}
}
