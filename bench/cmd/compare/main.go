// Command compare runs the standard benchmark scenarios (A–F) against
// Herald and its peers, one server process at a time, alternating the
// implementations from run to run, and reports the medians with
// Herald/peer ratios: a table on standard output, BENCHMARKS.md, an SVG chart
// of the ratios and the raw results as JSON.
//
// Run it from the bench module:
//
//	cd bench && go run ./cmd/compare            # full: 3 runs, about 25 minutes
//	cd bench && go run ./cmd/compare -quick     # smoke run, under 3 minutes
//
// Each server is bench/cmd/peer (built by compare unless -peer is given);
// the load generator is Herald's loadgen package, in this process (and in
// worker processes, this same binary, beyond 9,000 subscribers).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/herald-sse/herald/loadgen"
)

// allImpls are the implementations compared, in the order of the tables.
var allImpls = []string{"herald-memory", "herald-bolt", "mercure", "mercure-bolt", "go-sse", "r3labs"}

// durable implementations: only they run scenario E, and Herald's durable
// store is compared with them.
var durable = map[string]bool{"herald-bolt": true, "mercure-bolt": true}

type options struct {
	quick     bool
	runs      int
	impls     []string
	scenarios []string
	peer      string
	outMD     string
	outDir    string
	jwtKey    string
	command   string
	from      string
	elapsed   time.Duration
	note      string
	notes     []string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		if err := loadgen.RunWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "compare worker:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var impls, scenarios string
	flag.BoolVar(&o.quick, "quick", false, "smoke run: fewer subscribers, shorter windows, one run (under 3 minutes)")
	flag.IntVar(&o.runs, "runs", 3, "runs of each scenario and implementation (medians are reported); -quick sets 1")
	flag.StringVar(&impls, "impls", strings.Join(allImpls, ","), "implementations to compare")
	flag.StringVar(&scenarios, "scenarios", strings.Join(loadgen.ScenarioNames(), ","), "scenarios to run")
	flag.StringVar(&o.peer, "peer", "", "the peer server binary (default: build ./cmd/peer)")
	flag.StringVar(&o.outMD, "md", "../BENCHMARKS.md", "write the report here (empty: do not)")
	flag.StringVar(&o.outDir, "out", "results", "directory for the chart (ratios.svg) and raw results (results.json)")
	flag.StringVar(&o.jwtKey, "jwt-key", "bench-secret", "HMAC key of publisher tokens")
	flag.StringVar(&o.from, "from", "", "do not run: write the report again from a results.json of an earlier run")
	flag.DurationVar(&o.elapsed, "elapsed", 0, "with -from and an old results.json: how long that run took")
	flag.StringVar(&o.note, "note", "", "with -from: a note to add to the report's head (say where results merged into results.json came from)")
	flag.Parse()
	o.impls = splitList(impls)
	o.scenarios = splitList(scenarios)
	o.command = "go run ./cmd/compare " + strings.Join(os.Args[1:], " ")
	if o.quick && !flagGiven("runs") {
		o.runs = 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func run(ctx context.Context, o options) error {
	for _, im := range o.impls {
		if !contains(allImpls, im) {
			return fmt.Errorf("unknown implementation %q", im)
		}
	}
	if o.from != "" {
		return rerender(o)
	}
	var plans []plan
	for _, s := range o.scenarios {
		p, err := planFor(s, o.quick)
		if err != nil {
			return err
		}
		plans = append(plans, p)
	}
	tmp, err := os.MkdirTemp("", "herald-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.peer == "" {
		o.peer = filepath.Join(tmp, "peer")
		fmt.Fprintln(os.Stderr, "building ./cmd/peer")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.peer, "./cmd/peer")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building the peer server (run compare from the bench directory): %w", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}

	start := time.Now()
	var results []runResult
	total := 0
	for _, p := range plans {
		for _, im := range o.impls {
			if p.applies(im) {
				total += o.runs
			}
		}
	}
	n := 0
	for r := range o.runs {
		for _, p := range plans {
			// Alternate: each run starts the rotation at another implementation.
			for i := range o.impls {
				im := o.impls[(i+r)%len(o.impls)]
				if !p.applies(im) {
					continue
				}
				n++
				fmt.Fprintf(os.Stderr, "[%d/%d %s] run %d, %s %s, %s\n", n, total, time.Since(start).Round(time.Second), r+1, p.letter, p.name, im)
				res, err := runOne(ctx, o, p, im, exe, filepath.Join(tmp, fmt.Sprintf("%s-%s-%d", p.name, im, r)))
				if ctx.Err() != nil {
					return ctx.Err()
				}
				rr := runResult{Scenario: p.name, Impl: im, Run: r + 1, Result: res}
				if err != nil {
					rr.Error = err.Error()
					fmt.Fprintf(os.Stderr, "    error: %v\n", err)
				} else {
					fmt.Fprintf(os.Stderr, "    %s\n", p.oneLine(res))
				}
				results = append(results, rr)
				time.Sleep(time.Second)
			}
		}
	}
	rep := newReport(o, plans, results, time.Since(start))
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(o.outDir, "results.json"), rep.saved()); err != nil {
		return err
	}
	return rep.write()
}

// write prints the report and writes the chart and BENCHMARKS.md.
func (rep *report) write() error {
	o := rep.o
	fmt.Print(rep.text())
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	svgPath := filepath.Join(o.outDir, "ratios.svg")
	if err := os.WriteFile(svgPath, []byte(rep.svg()), 0o644); err != nil {
		return err
	}
	if o.outMD != "" {
		if err := os.WriteFile(o.outMD, []byte(rep.markdown(svgPath)), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s, %s\n", o.outMD, svgPath)
	}
	return nil
}

// runOne starts impl's server, runs scenario p against it, and stops it.
func runOne(ctx context.Context, o options, p plan, impl, exe, dataDir string) (*loadgen.Result, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	srv, err := startPeer(ctx, o.peer, impl, o.jwtKey, dataDir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	tok, err := publisherToken(o.jwtKey)
	if err != nil {
		return nil, err
	}
	cfg := p.cfg
	cfg.Hub = srv.url
	cfg.ServerPID = srv.cmd.Process.Pid
	cfg.PublisherToken = tok
	cfg.Workers = -1
	cfg.WorkerCommand = func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, exe, "-worker") }
	if p.name == "idle" {
		cfg.MemStatsURL = strings.TrimSuffix(srv.url, "/.well-known/mercure") + "/debug/memstats"
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	res, err := loadgen.Run(rctx, cfg)
	if err == nil && srv.exitedEarly() {
		err = errors.New("the server exited during the run")
	}
	return res, err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
