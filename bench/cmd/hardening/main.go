//go:build linux

// Command hardening runs the load checks of Herald's hardening (issue 13)
// against a real `herald serve` that it starts, measures what a legitimate
// client sees while hostile or overloaded clients press on the hub, and
// prints the figures against their targets as a Markdown table. Each
// scenario is bounded in count and time and stops by itself, and stops
// every process it started:
//
//	hardening selectors [-attackers 100] [-templates 64] [-topics 3000] [-rate 200]
//
// Selector amplification: anonymous connections subscribe with many
// distinct URI templates (by default ones that match nothing but share the
// literal prefix of every topic, the worst case for an index by affixes)
// while a backend publishes to thousands of topics. Reported: a legitimate
// subscriber's publish→receive latency before, during and after the
// attack, the hub's RSS before, at its peak and a minute after the
// attackers left, and the acknowledged events it did not receive.
//
//	hardening fds [-nofile 2000]
//
// File-descriptor exhaustion: the hub runs under a lowered open-file limit
// (`sh -c 'ulimit -n N && exec herald serve …'`, so that filling it is cheap;
// -nofile 0 keeps the machine's), and worker processes (this program again)
// open subscribers from 127.0.0.2 onwards until the hub refuses or stops
// answering. Then, at the limit: how long a new subscription takes to be
// refused and with what, how long /healthz takes, whether a publish works
// on a fresh connection and on one opened before, and whether a subscriber
// connected before still receives everything. The same again once idle
// keep-alive connections fill what the subscriber limit leaves
// (--max-connections), and how long the hub takes to accept a subscriber
// again once they all leave.
//
//	hardening replays [-history-mb 190] [-clients 500]
//
// Stalled replays: the hub's embedded store is filled with a history of
// several KB updates, then clients ask for all of it (Last-Event-ID:
// earliest) and never read. Reported: the hub's RSS growth, a live
// subscriber's latency, /healthz's, how many replays were refused and how
// many started, and how long the hub takes to cut the stalled ones (it is
// started with -write-timeout, its default of 30s unless told otherwise).
//
//	hardening slow [-subscribers 500] [-size 65536]
//
// Slow consumers: subscribers that never read while 64 KiB events are
// published. Reported: the hub's RSS growth, how many it disconnected as
// slow, the peak of herald_queued_bytes, and that a reading subscriber
// receives everything.
//
// In every scenario the legitimate subscriber is Herald's Go EventSource
// client, which reconnects with Last-Event-ID (also after a 503 or 429), and
// checks that every acknowledged event arrives once and in order. Clients
// that do not read connect with a small receive buffer (-rcvbuf) and
// announce an Ethernet-sized segment (-mss): over loopback's 64 KiB
// segments the hub's kernel would give each stalled connection a 4 MiB send
// buffer at once, which no remote client gets without reading fast first.
// The hub's RSS comes from /proc/PID/status; the machine's TCP buffers,
// which hold what stalled connections were sent, from /proc/net/sockstat.
// The machine's load average is printed with each table: on a shared
// machine, quote it with the figures.
//
// By default the hub is built from this repository (go build ./cmd/herald);
// -herald PATH runs another binary, such as an older release: flags it
// does not have are left out, and the report says so. -hub-args passes
// extra flags to it. The program exits 1 when a figure misses its target,
// 2 on bad usage, 3 when a scenario overran its time budget.
//
// Linux only (/proc, socket options, a parent-death signal for the hub).
// Run it from the bench module:
//
//	cd bench && go run ./cmd/hardening selectors
//	cd bench && go run ./cmd/hardening all -herald /tmp/herald-old-bin
//
// Its test runs each scenario in a tiny configuration, in seconds:
//
//	cd bench && go test ./cmd/hardening
//
// docs/hardening.md holds the figures measured for issue 13.
package main

import (
	"bufio"
	"cmp"
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// env is what every scenario shares: the hub binary, a scratch directory,
// and where progress goes.
type env struct {
	bin      string // the herald binary
	hubName  string // how reports name it
	dir      string // scratch directory, removed at the end
	hubArgs  []string
	perAddr  int       // clients per source address
	rcvbuf   int       // receive buffer of clients that do not read
	mss      int       // segment size clients announce (TCP_MAXSEG)
	progress io.Writer // progress lines (stderr)
	nhubs    int
}

func (e *env) logf(format string, args ...any) {
	if e.progress != nil {
		fmt.Fprintf(e.progress, "  "+format+"\n", args...)
	}
}

// startHub starts a hub with e's binary and extra flags, in a directory of
// its own.
func (e *env) startHub(ctx context.Context, spec hubSpec) (*hubProc, error) {
	e.nhubs++
	dir := filepath.Join(e.dir, fmt.Sprintf("hub%d", e.nhubs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	spec.bin = e.bin
	spec.args = append(slices.Clone(spec.args), e.hubArgs...)
	h, err := startHub(ctx, spec, dir)
	if err != nil {
		return nil, err
	}
	e.logf("hub pid %d at %s (log %s)", h.pid, h.base, h.log)
	return h, nil
}

// sock is the socket options of clients that do not read.
func (e *env) sock() sockOpts { return sockOpts{Rcvbuf: e.rcvbuf, MSS: e.mss} }

// noteOmitted says which flags the hub did not have.
func noteOmitted(r *report, h *hubProc) {
	if len(h.omitted) > 0 {
		r.note("flags this hub does not have, left out: %s", strings.Join(h.omitted, " "))
	}
}

var scenarios = []string{"selectors", "fds", "replays", "slow"}

func usage() {
	fmt.Fprint(os.Stderr, `usage: hardening <selectors|fds|replays|slow|all> [flags]
Run "hardening <scenario> -h" for the scenario's flags.
`)
}

func main() {
	if os.Getenv(workerEnv) != "" {
		os.Exit(runWorker(os.Stdin, os.Stdout))
	}
	if len(os.Args) < 2 || !slices.Contains(append(scenarios, "all"), os.Args[1]) {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	herald := fs.String("herald", "", "the herald binary to test (default: build ./cmd/herald of this repository)")
	hubArgs := fs.String("hub-args", "", "extra flags for herald serve, space-separated (--name=value); those the binary lacks are left out")
	keep := fs.Bool("keep", false, "keep the scratch directory (hub logs, data)")
	perAddr := fs.Int("per-addr", 500, "clients per source address (127.0.0.2 onwards); keep it under the hub's --max-client-subscribers")
	rcvbuf := fs.Int("rcvbuf", 16<<10, "receive buffer (SO_RCVBUF) of clients that never read")
	mss := fs.Int("mss", 1448, "segment size (TCP_MAXSEG) that clients other than the legitimate ones announce, as across an Ethernet path (0: loopback's 64 KiB, with which the hub's kernel gives every stalled connection a 4 MiB send buffer)")
	hubName := fs.String("hub-name", "", "how the report names the hub (default: its path, and the commit it was built from when known)")
	sel, fds, rep, slow := defaultSelectors(), defaultFDs(), defaultReplays(), defaultSlow()
	switch name {
	case "selectors":
		sel.flags(fs)
	case "fds":
		fds.flags(fs)
	case "replays":
		rep.flags(fs)
	case "slow":
		slow.flags(fs)
	}
	_ = fs.Parse(os.Args[2:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "hardening: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	for _, err := range []error{sel.check(), fds.check(), rep.check(), slow.check()} {
		if err != nil {
			fmt.Fprintln(os.Stderr, "hardening:", err)
			os.Exit(2)
		}
	}
	if *perAddr < 1 || *rcvbuf < 0 || *mss < 0 {
		fmt.Fprintln(os.Stderr, "hardening: -per-addr must be positive, -rcvbuf and -mss not negative")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "hardening-")
	if err != nil {
		fatal(err)
	}
	if *keep {
		fmt.Fprintln(os.Stderr, "hardening: scratch directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{bin: *herald, dir: dir, hubArgs: strings.Fields(*hubArgs), perAddr: *perAddr, rcvbuf: *rcvbuf, mss: *mss, progress: os.Stderr}
	e.hubName = *hubName
	if e.bin == "" {
		var from string
		if e.bin, from, err = buildHerald(dir); err != nil {
			fatal(err)
		}
		e.hubName = cmp.Or(e.hubName, "herald built from "+from)
	}
	e.hubName = cmp.Or(e.hubName, describeBinary(e.bin))

	type run struct {
		name   string
		budget time.Duration
		fn     func(context.Context) (*report, error)
	}
	all := map[string]run{
		"selectors": {"selectors", sel.budget(), func(ctx context.Context) (*report, error) { return runSelectors(ctx, e, sel) }},
		"fds":       {"fds", fds.budget(), func(ctx context.Context) (*report, error) { return runFDs(ctx, e, fds) }},
		"replays":   {"replays", rep.budget(), func(ctx context.Context) (*report, error) { return runReplays(ctx, e, rep) }},
		"slow":      {"slow", slow.budget(), func(ctx context.Context) (*report, error) { return runSlow(ctx, e, slow) }},
	}
	todo := []string{name}
	if name == "all" {
		todo = scenarios
	}
	var missed []string
	for _, n := range todo {
		rn := all[n]
		fmt.Fprintf(os.Stderr, "hardening %s (at most %v) against %s\n", n, rn.budget, e.hubName)
		r, err := runBounded(ctx, rn.budget, rn.fn)
		if err != nil {
			if !*keep {
				os.RemoveAll(dir)
			}
			if errors.Is(err, errOverran) {
				fmt.Fprintf(os.Stderr, "hardening %s: %v\n", n, err)
				os.Exit(3)
			}
			fatal(fmt.Errorf("%s: %w", n, err))
		}
		r.write(os.Stdout)
		for _, m := range r.missed() {
			missed = append(missed, n+": "+m)
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(os.Stderr, "hardening: %d figure(s) missed their target:\n  %s\n", len(missed), strings.Join(missed, "\n  "))
		if !*keep {
			os.RemoveAll(dir)
		}
		os.Exit(1)
	}
}

var errOverran = errors.New("the scenario overran its time budget; its processes were stopped")

// runBounded runs fn with a context that ends after budget. A scenario that
// does not return within 30 seconds more has its processes killed by the
// deferred stops as the process exits.
func runBounded(ctx context.Context, budget time.Duration, fn func(context.Context) (*report, error)) (*report, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	type out struct {
		r   *report
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := fn(ctx)
		done <- out{r, err}
	}()
	select {
	case o := <-done:
		if o.err != nil && ctx.Err() == context.DeadlineExceeded {
			return nil, errOverran
		}
		return o.r, o.err
	case <-time.After(budget + 30*time.Second):
		// The scenario ignores its context: its hub dies with us
		// (Pdeathsig), its workers when their standard input closes.
		return nil, errOverran
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "hardening:", err)
	os.Exit(1)
}

// repoRoot finds Herald's repository root: the directory above the working
// directory whose go.mod declares the herald module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			first := ""
			if sc.Scan() {
				first = strings.TrimSpace(sc.Text())
			}
			f.Close()
			if first == "module github.com/herald-sse/herald" {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside Herald's repository: run from bench/, or give -herald")
		}
		dir = parent
	}
}

// buildMu serialises builds (tests may build concurrently).
var buildMu sync.Mutex

// buildHerald builds ./cmd/herald of the repository into dir, and says
// what it was built from: the repository and its commit.
func buildHerald(dir string) (bin, from string, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "herald")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/herald")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/herald: %v\n%s", err, out)
	}
	from = root
	if rev, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		from += " at commit " + strings.TrimSpace(string(rev))
		if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			from += " with uncommitted changes"
		}
	}
	return bin, from, nil
}

// describeBinary names a herald binary by its path and the commit it was
// built from.
func describeBinary(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return bin
	}
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return bin
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if modified {
		rev += "+changes"
	}
	return fmt.Sprintf("%s (commit %s)", bin, rev)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepUntil waits until t or until ctx is done.
func sleepUntil(ctx context.Context, t time.Time) error { return sleep(ctx, time.Until(t)) }

func sortStrings(s []string) { slices.Sort(s) }
