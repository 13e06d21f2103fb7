package loadgen

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Scenario is a named preset: the defaults of one of the benchmark's
// standard scenarios (A–F, described in BENCHMARKS.md, and Db and Eb: D
// and E publishing in batches).
type Scenario struct {
	Name        string
	Letter      string
	Description string
	// Config holds the preset's values; Hub, tokens and the server's pid
	// are left to the caller.
	Config Config
}

// Scenarios are the standard scenarios, by name.
var Scenarios = map[string]Scenario{
	"idle": {Name: "idle", Letter: "A",
		Description: "10,000 idle subscribers, no publishing: the hub's memory per subscriber",
		Config:      Config{Subscribers: 10000, Topics: 1, Duration: 5 * time.Second, Settle: 2 * time.Second}},
	"broadcast": {Name: "broadcast", Letter: "B",
		Description: "1,000 subscribers on one topic, publishers as fast as the hub acknowledges",
		Config:      Config{Subscribers: 1000, Topics: 1, Publishers: 4, Duration: 15 * time.Second, Warmup: 2 * time.Second}},
	"latency": {Name: "latency", Letter: "C",
		Description: "1,000 subscribers on one topic, 200 events/s: publish-to-receive latency",
		Config:      Config{Subscribers: 1000, Topics: 1, Publishers: 1, Rate: 200, Duration: 15 * time.Second, Warmup: time.Second}},
	"topics": {Name: "topics", Letter: "D",
		Description: "5,000 subscribers each on its own topic, 16 publishers round-robin as fast as possible",
		Config:      Config{Subscribers: 5000, Topics: 5000, Publishers: 16, Duration: 15 * time.Second, Warmup: 2 * time.Second}},
	"topics-batch": {Name: "topics-batch", Letter: "Db",
		Description: "D with each publisher posting batches of 100 events to Herald's batch endpoint (Herald only)",
		Config:      Config{Subscribers: 5000, Topics: 5000, Publishers: 16, Batch: 100, Duration: 15 * time.Second, Warmup: 2 * time.Second}},
	"durable": {Name: "durable", Letter: "E",
		Description: "16 concurrent publishers as fast as possible (run the hub with a durable store): publishes/s",
		Config:      Config{Subscribers: 16, Topics: 16, Publishers: 16, Duration: 15 * time.Second, Warmup: time.Second}},
	"durable-batch": {Name: "durable-batch", Letter: "Eb",
		Description: "E with each publisher posting batches of 100 events to Herald's batch endpoint (Herald only)",
		Config:      Config{Subscribers: 16, Topics: 16, Publishers: 16, Batch: 100, Duration: 15 * time.Second, Warmup: time.Second}},
	"storm": {Name: "storm", Letter: "F",
		Description: "10,000 subscribers drop at once and reconnect with Last-Event-ID while 200 events/s go on",
		Config: Config{Subscribers: 10000, Topics: 100, Publishers: 4, Rate: 200, Duration: 15 * time.Second,
			Warmup: time.Second, Settle: time.Second, Storm: true, StormAfter: 5 * time.Second}},
}

// ScenarioNames returns the scenario names in the order A, B, C, D, Db,
// E, Eb, F.
func ScenarioNames() []string {
	names := make([]string, 0, len(Scenarios))
	for n := range Scenarios {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return Scenarios[names[i]].Letter < Scenarios[names[j]].Letter })
	return names
}

// LookupScenario returns the scenario named name (or by its letter, A–F,
// Db or Eb, in any case).
func LookupScenario(name string) (Scenario, error) {
	for _, s := range Scenarios {
		if strings.EqualFold(s.Name, name) || strings.EqualFold(s.Letter, name) {
			s.Config.Scenario = s.Name
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("loadgen: unknown scenario %q; use one of %s", name, strings.Join(ScenarioNames(), ", "))
}
