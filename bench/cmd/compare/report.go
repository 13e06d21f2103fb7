package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/herald-sse/herald/loadgen"
)

// runResult is one run of one scenario against one implementation.
type runResult struct {
	Scenario string          `json:"scenario"`
	Impl     string          `json:"impl"`
	Run      int             `json:"run"`
	Error    string          `json:"error,omitempty"`
	Result   *loadgen.Result `json:"result,omitempty"`
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// report holds the medians of a comparison.
type report struct {
	o       options
	plans   []plan
	results []runResult
	elapsed time.Duration
	when    time.Time
}

func newReport(o options, plans []plan, results []runResult, elapsed time.Duration) *report {
	return &report{o: o, plans: plans, results: results, elapsed: elapsed, when: time.Now()}
}

// savedRun is results.json: a comparison's raw results and how it ran.
type savedRun struct {
	Date      time.Time   `json:"date"`
	Quick     bool        `json:"quick"`
	Runs      int         `json:"runs"`
	Command   string      `json:"command"`
	Elapsed   float64     `json:"elapsed_s"`
	Impls     []string    `json:"impls"`
	Scenarios []string    `json:"scenarios"`
	Results   []runResult `json:"results"`
}

func (r *report) saved() savedRun {
	var scen []string
	for _, p := range r.plans {
		scen = append(scen, p.name)
	}
	return savedRun{Date: r.when, Quick: r.o.quick, Runs: r.o.runs, Command: r.o.command, Elapsed: r.elapsed.Seconds(),
		Impls: r.o.impls, Scenarios: scen, Results: r.results}
}

// rerender writes the report again from o.from, a results.json: either a
// savedRun, or (older) the bare list of results, described by o's flags.
func rerender(o options) error {
	b, err := os.ReadFile(o.from)
	if err != nil {
		return err
	}
	var sr savedRun
	if err := json.Unmarshal(b, &sr); err != nil {
		if err := json.Unmarshal(b, &sr.Results); err != nil {
			return fmt.Errorf("%s: %w", o.from, err)
		}
		sr.Quick, sr.Runs, sr.Command, sr.Elapsed = o.quick, o.runs, "go run ./cmd/compare", o.elapsed.Seconds()
		sr.Impls, sr.Scenarios = o.impls, o.scenarios
		if fi, err := os.Stat(o.from); err == nil {
			sr.Date = fi.ModTime()
		}
	}
	o.quick, o.runs, o.command, o.impls = sr.Quick, sr.Runs, sr.Command, sr.Impls
	var plans []plan
	for _, s := range sr.Scenarios {
		p, err := planFor(s, sr.Quick)
		if err != nil {
			return err
		}
		plans = append(plans, p)
	}
	rep := newReport(o, plans, sr.Results, time.Duration(sr.Elapsed*float64(time.Second)))
	rep.when = sr.Date
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(o.outDir, "results.json"), rep.saved()); err != nil {
		return err
	}
	return rep.write()
}

// median returns the median of metric m over the successful runs of p
// against impl.
func (r *report) median(p plan, m metric, impl string) (float64, bool) {
	var vs []float64
	for _, rr := range r.results {
		if rr.Scenario != p.name || rr.Impl != impl || rr.Error != "" || rr.Result == nil {
			continue
		}
		if v, ok := m.get(rr.Result); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// peers are the implementations other than Herald's.
func (r *report) peers() []string {
	var out []string
	for _, im := range r.o.impls {
		if !strings.HasPrefix(im, "herald") {
			out = append(out, im)
		}
	}
	return out
}

// heraldFor is the Herald configuration compared with peer: the durable
// one with durable peers.
func heraldFor(peer string) string {
	if durable[peer] {
		return "herald-bolt"
	}
	return "herald-memory"
}

// ratio is Herald's advantage over peer on m: how many times higher
// (throughput) or lower (costs, latency) Herald's median is. Above 1, Herald
// does better.
func (r *report) ratio(p plan, m metric, peer string) (float64, bool) {
	if m.name == mLost.name {
		return 0, false
	}
	h, ok1 := r.median(p, m, heraldFor(peer))
	v, ok2 := r.median(p, m, peer)
	if !ok1 || !ok2 || h <= 0 || v <= 0 {
		return 0, false
	}
	if m.higher {
		return h / v, true
	}
	return v / h, true
}

type row struct {
	cells []string
}

func (r *report) tables() (figures, ratios, accounting []row, figHead, ratioHead, accHead []string) {
	figHead = append([]string{"scenario", "figure (median)"}, r.o.impls...)
	ratioHead = []string{"scenario", "figure"}
	for _, pe := range r.peers() {
		ratioHead = append(ratioHead, fmt.Sprintf("%s vs %s", strings.TrimPrefix(heraldFor(pe), "herald-"), pe))
	}
	accHead = append([]string{"scenario"}, r.o.impls...)
	for _, p := range r.plans {
		for _, m := range p.metrics {
			cells := []string{p.letter + " " + p.name, m.name}
			for _, im := range r.o.impls {
				if v, ok := r.median(p, m, im); ok && p.applies(im) {
					cells = append(cells, m.format(v))
				} else {
					cells = append(cells, "—")
				}
			}
			figures = append(figures, row{cells: cells})
			if m.name == mLost.name {
				continue
			}
			rc := []string{p.letter + " " + p.name, m.name}
			for _, pe := range r.peers() {
				if x, ok := r.ratio(p, m, pe); ok {
					rc = append(rc, fmt.Sprintf("×%.2f", x))
				} else {
					rc = append(rc, "—")
				}
			}
			ratios = append(ratios, row{cells: rc})
		}
		ac := []string{p.letter + " " + p.name}
		for _, im := range r.o.impls {
			if !p.applies(im) {
				ac = append(ac, "—")
				continue
			}
			var lost, ooo uint64
			errs, runs := 0, 0
			for _, rr := range r.results {
				if rr.Scenario != p.name || rr.Impl != im {
					continue
				}
				runs++
				if rr.Error != "" || rr.Result == nil {
					errs++
					continue
				}
				lost += rr.Result.Lost
				ooo += rr.Result.OutOfOrder
			}
			cell := fmt.Sprintf("%d / %d", lost, ooo)
			if errs > 0 {
				cell += fmt.Sprintf(" (%d of %d runs failed)", errs, runs)
			}
			ac = append(ac, cell)
		}
		accounting = append(accounting, row{cells: ac})
	}
	return
}

func mdTable(b *strings.Builder, head []string, rows []row) {
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for range head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r.cells, " | ") + " |\n")
	}
}

func textTable(b *strings.Builder, head []string, rows []row) {
	w := make([]int, len(head))
	for i, h := range head {
		w[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r.cells {
			w[i] = max(w[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		for i, c := range cells {
			fmt.Fprintf(b, "%-*s  ", w[i], c)
		}
		b.WriteString("\n")
	}
	line(head)
	for _, r := range rows {
		line(r.cells)
	}
}

func (r *report) mode() string {
	if r.o.quick {
		return fmt.Sprintf("--quick (smoke run: fewer subscribers, short windows), %d run(s)", r.o.runs)
	}
	return fmt.Sprintf("full, %d runs of each scenario and implementation", r.o.runs)
}

func (r *report) text() string {
	figs, ratios, acc, fh, rh, ah := r.tables()
	var b strings.Builder
	fmt.Fprintf(&b, "\nHerald vs peers: %s; %s in all\n\nMedians:\n", r.mode(), r.elapsed.Round(time.Second))
	textTable(&b, fh, figs)
	b.WriteString("\nHerald's advantage (×N: Herald N times better; below 1: worse):\n")
	textTable(&b, rh, ratios)
	b.WriteString("\nEvents lost / out of order or duplicated (sum over runs; must be 0 / 0):\n")
	textTable(&b, ah, acc)
	return b.String()
}

// machine describes this machine for the report.
func machine() []string {
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return strings.TrimSpace(string(b))
	}
	cpu := ""
	for _, line := range strings.Split(read("/proc/cpuinfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			break
		}
	}
	mem := ""
	for _, line := range strings.Split(read("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	nproc := fmt.Sprint(runtime.NumCPU())
	if out, err := exec.Command("nproc").Output(); err == nil {
		nproc = strings.TrimSpace(string(out))
	}
	return []string{
		"CPU: " + nproc + " cores (nproc), " + cpu,
		"memory: " + mem,
		"kernel: Linux " + read("/proc/sys/kernel/osrelease"),
		"Go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"open files per process: 20,000; load generator and server on the same machine, over loopback",
		"load average (1, 5, 15 min) when the report was written: " + strings.Join(strings.Fields(read("/proc/loadavg"))[:3], ", ") +
			" (the comparison itself keeps both cores busy)",
	}
}

// markdown is BENCHMARKS.md. svgPath is where the chart was written,
// relative to the bench module (the report lives at the repository's root).
func (r *report) markdown(svgPath string) string {
	figs, ratios, acc, fh, rh, ah := r.tables()
	chart := svgPath
	if !filepath.IsAbs(chart) {
		chart = filepath.ToSlash(filepath.Join("bench", chart))
	}
	return r.markdownWithChart(chart, figs, ratios, acc, fh, rh, ah)
}

func (r *report) markdownWithChart(chart string, figs, ratios, acc []row, fh, rh, ah []string) string {
	var b strings.Builder
	b.WriteString(r.markdownHead())
	b.WriteString("\n## Medians\n\n")
	mdTable(&b, fh, figs)
	b.WriteString("\n## Herald's advantage over each peer\n\n")
	b.WriteString("×N means Herald's median is N times better: higher for throughput, lower for costs and latency. " +
		"Herald's memory store is compared with the peers without durability, its durable store with Mercure's Bolt transport.\n\n")
	mdTable(&b, rh, ratios)
	fmt.Fprintf(&b, "\n![Herald's advantage over each peer](%s)\n", chart)
	b.WriteString("\n## Lost and out-of-order events\n\n")
	b.WriteString("Events lost / received out of order or twice, summed over the runs. Mercure's local transport keeps no history, " +
		"so its subscribers cannot resume after the storm (F): the loss is by design. Anything else is a bug.\n\n")
	mdTable(&b, ah, acc)
	b.WriteString(notes)
	return b.String()
}

const notes = `
## Reading these numbers

- The machine has 2 cores, shared by the load generator and the server (and by anything else that
  runs meanwhile): absolute numbers are noisy. Medians of alternating runs
  and the server's CPU-seconds per million deliveries (which noise disturbs least) are the figures to
  compare. The load generator itself costs CPU on the same cores (see ` + "`loadgen_cpu_s`" + ` in results.json).
- Throughput scenarios (B, D, E) publish as fast as the server acknowledges: a server that accepts
  publications faster than it delivers them builds queues (and may drop slow subscribers, which then
  resume from history).
- Why B's latency is higher with Herald's memory store than with its durable store, although C (a fixed
  rate) shows the memory store faster: B's publishers are a closed loop, each sending its next event as
  soon as the last one is acknowledged. The memory store acknowledges an event once it is in memory,
  before any subscriber has it, so the publishers run ahead of the fan-out to 1,000 sockets, and every
  subscriber's queue fills (up to ` + "`--queue-limit`" + ` events): an event waits behind those queued before it,
  and that wait is its latency. The hub writes everything queued for a subscriber in one vectored write,
  so the same deep queues make each delivery cheaper: the memory store's higher deliveries/s and lower
  CPU per delivery in B come with its higher latency. The durable store acknowledges only after its
  group commit's fdatasync, which holds each publisher long enough that publishing stays near the rate
  the fan-out sustains: queues stay short, and so does latency. ` + "`herald bench`" + ` shows it: when deliveries/s
  fall below publishes/s times the subscribers per topic, queues are growing.
- What no server can beat on the machine: ` + "`go run ./cmd/floor all`" + ` measures the least work any server
  could do in scenarios C, D and E (raw TCP writes and reads between two processes, no HTTP, no SSE):
  the latency of 1,000 writes per event, the request rate of 16 one-at-a-time publishers, and that
  rate when each request is made durable first (group commit: one pwrite and one fdatasync of a
  preallocated file per batch), with the CPU each side spends. Compare C's latency and D's and E's
  rates with it before reading them as a server's.
- Below HTTP: ` + "`go test -run='^$' -bench=. ./durable`" + ` compares the durable stores alone (Herald's
  write-ahead log and Mercure's Bolt transport, with 1, 16 and 64 concurrent publishers).
- Reproduce: ` + "`cd bench && go run ./cmd/compare`" + ` (about 25 minutes; ` + "`-quick`" + ` for a smoke run under 3
  minutes; ` + "`-scenarios`" + `, ` + "`-impls`" + `, ` + "`-runs`" + ` to narrow it). Measure your own deployment with
  ` + "`herald bench --hub URL --scenario NAME --server-pid PID`" + `.
`

func (r *report) markdownHead() string {
	var b strings.Builder
	b.WriteString("# Benchmarks: Herald and its peers\n\n")
	b.WriteString("Written by `bench/cmd/compare` (do not edit by hand; run it again).\n\n")
	fmt.Fprintf(&b, "- Date: %s\n- Mode: %s; the whole comparison took %s\n", r.when.UTC().Format("2006-01-02 15:04 UTC"), r.mode(), r.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- Command (from `bench/`): `%s`\n", strings.TrimSpace(r.o.command))
	for _, m := range machine() {
		b.WriteString("- " + m + "\n")
	}
	b.WriteString(`
Implementations, each alone in its own server process (` + "`bench/cmd/peer -impl=NAME`" + `), all behind the same
two endpoints (subscribe: GET /.well-known/mercure?topic=T, publish: POST form topic, data):
herald-memory (Herald's hub, in-memory history), herald-bolt (Herald, embedded durable store),
mercure / mercure-bolt (Mercure v0.24.2 embedded as a library, local and Bolt transports),
go-sse (tmaxmax/go-sse v0.11.0, Joe with a FiniteReplayer), r3labs (r3labs/sse v2.10.0, stream per topic).
Herald and Mercure verify a publisher JWT on every publish; go-sse and r3labs have no authorization.

The load generator is Herald's ` + "`loadgen`" + ` package (the engine of ` + "`herald bench`" + `): real sockets, a
minimal event-stream reader, keep-alive HTTP/1.1 publishers; every event carries its send time and a
sequence number, so every subscriber measures latency and checks it got every event once and in order.
Server CPU time and RSS come from /proc; Go heap+stack from the peer's /debug/memstats (after a GC).

Scenarios (the comparison uses shorter windows than ` + "`herald bench --scenario`" + `):
`)
	for _, p := range r.plans {
		b.WriteString("- " + p.describe() + "\n")
	}
	return b.String()
}

// svg draws Herald's advantage over each peer as horizontal bars on a log
// scale, one group per figure.
func (r *report) svg() string {
	peers := r.peers()
	colors := []string{"#d95f02", "#7570b3", "#1b9e77", "#e7298a", "#66a61e", "#e6ab02"}
	type bar struct {
		peer  int
		ratio float64
	}
	type group struct {
		label string
		bars  []bar
	}
	var groups []group
	lo, hi := 0.5, 2.0
	for _, p := range r.plans {
		for _, m := range p.metrics {
			g := group{label: p.letter + " " + m.name}
			for i, pe := range peers {
				if x, ok := r.ratio(p, m, pe); ok {
					g.bars = append(g.bars, bar{i, x})
					lo, hi = math.Min(lo, x), math.Max(hi, x)
				}
			}
			if len(g.bars) > 0 {
				groups = append(groups, g)
			}
		}
	}
	lmin, lmax := math.Floor(math.Log2(lo)), math.Ceil(math.Log2(hi))
	const left, width, barH, gap, top = 300.0, 560.0, 12.0, 10.0, 60.0
	x := func(v float64) float64 { return left + (math.Log2(v)-lmin)/(lmax-lmin)*width }
	height := top + 40
	for _, g := range groups {
		height += float64(len(g.bars))*barH + gap
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", left+width+80, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">Herald's advantage over each peer (×N: N times better; log scale)</text>`+"\n")
	for i, pe := range peers {
		fmt.Fprintf(&b, `<rect x="%.0f" y="30" width="10" height="10" fill="%s"/><text x="%.0f" y="39">%s vs %s</text>`+"\n",
			10+float64(i)*170, colors[i%len(colors)], 24+float64(i)*170, strings.TrimPrefix(heraldFor(pe), "herald-"), pe)
	}
	for e := lmin; e <= lmax; e++ {
		v := math.Pow(2, e)
		stroke := "#ddd"
		if e == 0 {
			stroke = "#000"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="%s"/>`+"\n", x(v), top-5, x(v), height-30, stroke)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">×%s</text>`+"\n", x(v), height-15, trimFloat(v))
	}
	y := top
	for _, g := range groups {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y+float64(len(g.bars))*barH/2+4, escape(g.label))
		for _, br := range g.bars {
			x0, x1 := x(1), x(br.ratio)
			if x1 < x0 {
				x0, x1 = x1, x0
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.0f" fill="%s"/>`+"\n", x0, y, math.Max(x1-x0, 1), barH-2, colors[br.peer%len(colors)])
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">×%.2f</text>`+"\n", math.Max(x(br.ratio), x(1))+3, y+barH-3, br.ratio)
			y += barH
		}
		y += gap
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func trimFloat(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
