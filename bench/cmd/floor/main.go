// Command floor measures, on this machine, the floor that any SSE server
// faces in two `herald bench` scenarios: the latency and CPU cost of the
// least work a server could possibly do, with the load generator on the
// same cores as the server, as in the real benchmark.
//
// There is no HTTP, no SSE framing or parsing and no JSON: only fixed-size
// messages over raw TCP on 127.0.0.1, written with plain conn.Write and read
// with one goroutine per connection. The server is this process; the load
// side is this same binary re-executed with -load, a separate OS process,
// so that the two compete for the CPUs exactly as herald and its load
// generator do. Whatever a real hub adds (HTTP parsing, routing, buffering,
// framing, bookkeeping) comes on top of these numbers.
//
//	floor fanout  -subs 1000 -rate 200 -size 100 -duration 10s [-writers N] [-reader epoll]
//
// Scenario C. The server accepts -subs connections and, every 1/rate
// seconds, writes one -size-byte message carrying its send time
// (time.Now().UnixNano(): the wall clock, which both processes share;
// monotonic readings are not comparable across processes) to every
// connection: in one loop (-writers 1), or split over N goroutines writing
// in parallel (-writers 0 means GOMAXPROCS). The message also carries its
// scheduled time, so that a server falling behind shows. The load side
// records receive time minus send (and scheduled) time for every message.
// Reported: latency percentiles,
// the time the server takes to get one event into all sockets (span), how
// late publications start when the server falls behind (lag), and the CPU
// seconds of both processes with the server's CPU-µs per write(2) and the
// client's per message received. Those two costs bound the latency from
// below whatever the scheduling: before the k-th of an event's messages is
// received, k writes and k reads have been paid for, so it comes at least
// k × (server µs/write + client µs/message) ÷ ncpu after the publication.
// -reader epoll reads with one event loop per GOMAXPROCS instead of a
// goroutine per connection, to show what a client's design changes: on the
// machine it was written on, nothing (4.7–5.4 CPU-µs per message against
// 4.3–4.6: each read(2) returns one message either way).
//
//	floor reqresp -publishers 16 -subs 5000 -duration 10s
//
// Scenario D. The server accepts -publishers and -subs connections. Each
// publisher connection sends a -req-size request and waits for the
// -resp-size response before sending the next (one request in flight, like
// a keep-alive HTTP/1.1 POST); for each request the server writes one
// -msg-size message to the next subscriber connection round-robin (the
// delivery), then the response. Reported: deliveries per second, request
// round-trip time, CPU seconds of both processes and CPU-µs per request on
// each side, and the throughput those CPU costs allow on this machine's
// cores (ncpu × 10⁶ / total CPU-µs per request).
//
//	floor reqresp -batch 100 -req-size 15000
//
// Scenario Db. As reqresp, but each request is a batch: the server writes
// one delivery to each of the next -batch subscribers (round-robin) before
// the response, as a batch publish does in scenario D's shape. Reported
// also per delivery.
//
//	floor reqresp -durable -subs 16
//
// Scenario E. As reqresp, but each request is made durable before its
// delivery and response: a committer goroutine writes every request queued
// so far with one pwrite to a preallocated file and one fdatasync (group
// commit), the least a durable hub can do per batch.
//
//	floor all [-runs 3] [-duration 8s] [-wait-idle 0]
//
// Runs fanout with one writer, fanout with GOMAXPROCS writers, reqresp and
// reqresp -durable, each with the scenarios' parameters. On a shared machine, -wait-idle 2m
// waits (at most that long) before each run until the machine is idle.
//
// Every measurement is repeated -runs times (fresh listener, fresh load
// process) and reported per run and as the median. The table also shows
// the CPU seconds the rest of the machine used during the run ("others"),
// from /proc/stat: numbers taken while other work runs are only upper
// bounds of the floor.
//
// Run it from the bench module:
//
//	cd bench && go run ./cmd/floor all
//	cd bench && go run ./cmd/floor fanout -writers 2 -runs 3 -duration 8s
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// setupTimeout bounds connecting (and accepting) all the sockets.
	setupTimeout = 60 * time.Second
	// grace bounds draining, reporting and exiting after a run.
	grace = 30 * time.Second
	// maxDuration bounds -duration.
	maxDuration = 10 * time.Minute
)

// config holds the flags of both scenarios.
type config struct {
	scenario string
	runs     int
	duration time.Duration
	warmup   time.Duration
	waitIdle time.Duration

	subs    int    // both
	rate    int    // fanout
	size    int    // fanout
	writers int    // fanout
	reader  string // fanout: "goroutines" or "epoll"

	publishers int  // reqresp
	durable    bool // reqresp: scenario E
	reqSize    int  // reqresp
	respSize   int  // reqresp
	msgSize    int  // reqresp
	batch      int  // reqresp: deliveries per request

	// The load side (internal).
	load  bool
	addr  string
	addr2 string
}

func defaults(scenario string) config {
	c := config{scenario: scenario, runs: 1, duration: 10 * time.Second, warmup: 500 * time.Millisecond}
	switch scenario {
	case "fanout":
		c.subs, c.rate, c.size, c.writers, c.reader = 1000, 200, 100, 1, "goroutines"
	case "reqresp":
		c.subs, c.publishers, c.reqSize, c.respSize, c.msgSize, c.batch = 5000, 16, 200, 100, 150, 1
	}
	return c
}

func (c *config) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.scenario, flag.ExitOnError)
	fs.IntVar(&c.runs, "runs", c.runs, "runs (each with a fresh load process); medians are reported")
	fs.DurationVar(&c.duration, "duration", c.duration, "measured time of each run")
	fs.DurationVar(&c.waitIdle, "wait-idle", c.waitIdle, "before each run, wait up to this long for the machine to be idle (below 10% busy for 1s)")
	fs.IntVar(&c.subs, "subs", c.subs, "subscriber connections")
	switch c.scenario {
	case "fanout":
		fs.IntVar(&c.rate, "rate", c.rate, "events per second, each written to every subscriber")
		fs.IntVar(&c.size, "size", c.size, "bytes per message (at least 24: sequence number, send time, scheduled time)")
		fs.IntVar(&c.writers, "writers", c.writers, "goroutines writing the events, each to its share of the sockets (0: GOMAXPROCS)")
		fs.StringVar(&c.reader, "reader", c.reader, "how the load side reads: goroutines (one per connection, blocking reads) or epoll (Linux: one event loop per GOMAXPROCS, read(2) on each ready socket)")
		fs.DurationVar(&c.warmup, "warmup", c.warmup, "idle time between connecting and the first event")
	case "reqresp":
		fs.IntVar(&c.publishers, "publishers", c.publishers, "publisher connections, each with one request in flight")
		fs.IntVar(&c.reqSize, "req-size", c.reqSize, "bytes per request")
		fs.IntVar(&c.respSize, "resp-size", c.respSize, "bytes per response")
		fs.IntVar(&c.msgSize, "msg-size", c.msgSize, "bytes per delivery")
		fs.IntVar(&c.batch, "batch", c.batch, "deliveries per request, each to the next subscriber (a batch publish: scenario Db, with -batch 100 -req-size 15000)")
		fs.BoolVar(&c.durable, "durable", c.durable, "make each request durable before its delivery and response: group commit, one pwrite and one fdatasync of a preallocated file per batch (scenario E: -durable -subs 16)")
	}
	fs.BoolVar(&c.load, "load", false, "internal: be the load side, connecting to -addr (and -addr2)")
	fs.StringVar(&c.addr, "addr", "", "internal: the server's address (reqresp: subscribers)")
	fs.StringVar(&c.addr2, "addr2", "", "internal: reqresp: the server's address for publishers")
	return fs
}

func (c *config) check() error {
	switch {
	case c.runs < 1 || c.runs > 100:
		return fmt.Errorf("-runs %d: want 1 to 100", c.runs)
	case c.duration < 100*time.Millisecond || c.duration > maxDuration:
		return fmt.Errorf("-duration %v: want 100ms to %v", c.duration, maxDuration)
	case c.waitIdle < 0 || c.waitIdle > time.Hour:
		return fmt.Errorf("-wait-idle %v: want 0 to 1h", c.waitIdle)
	case c.warmup < 0 || c.warmup > time.Minute:
		return fmt.Errorf("-warmup %v: want 0 to 1m", c.warmup)
	case c.subs < 1 || c.subs > 100_000:
		return fmt.Errorf("-subs %d: want 1 to 100000", c.subs)
	}
	switch c.scenario {
	case "fanout":
		if c.writers == 0 {
			c.writers = runtime.GOMAXPROCS(0)
		}
		switch {
		case c.rate < 1 || c.rate > 100_000:
			return fmt.Errorf("-rate %d: want 1 to 100000", c.rate)
		case c.size < 24 || c.size > 1<<20:
			return fmt.Errorf("-size %d: want 24 to 1MiB", c.size)
		case c.writers < 1 || c.writers > c.subs:
			return fmt.Errorf("-writers %d: want 0 to -subs", c.writers)
		case c.reader != "goroutines" && c.reader != "epoll":
			return fmt.Errorf("-reader %q: want goroutines or epoll", c.reader)
		case c.reader == "epoll" && !epollAvailable:
			return fmt.Errorf("-reader epoll needs Linux")
		case c.events() < 1:
			return fmt.Errorf("-rate × -duration is less than one event")
		}
	case "reqresp":
		switch {
		case c.publishers < 1 || c.publishers > 10_000:
			return fmt.Errorf("-publishers %d: want 1 to 10000", c.publishers)
		case c.reqSize < 1 || c.respSize < 1 || c.msgSize < 1 || max(c.reqSize, c.respSize, c.msgSize) > 1<<20:
			return fmt.Errorf("sizes: want 1 byte to 1MiB")
		case c.batch < 1 || c.batch > c.subs:
			return fmt.Errorf("-batch %d: want 1 to -subs", c.batch)
		}
	}
	return nil
}

// events is the number of events of a fanout run.
func (c *config) events() int { return int(float64(c.rate) * c.duration.Seconds()) }

// hardLimit bounds a whole run, in both processes.
func (c *config) hardLimit() time.Duration { return setupTimeout + c.warmup + c.duration + grace }

// loadArgs are the arguments of the load process.
func (c *config) loadArgs(addr, addr2 string) []string {
	a := []string{c.scenario, "-load", "-addr", addr, "-duration", c.duration.String(), "-subs", strconv.Itoa(c.subs)}
	switch c.scenario {
	case "fanout":
		a = append(a, "-rate", strconv.Itoa(c.rate), "-size", strconv.Itoa(c.size), "-warmup", c.warmup.String(), "-reader", c.reader)
	case "reqresp":
		a = append(a, "-addr2", addr2, "-publishers", strconv.Itoa(c.publishers),
			"-req-size", strconv.Itoa(c.reqSize), "-resp-size", strconv.Itoa(c.respSize), "-msg-size", strconv.Itoa(c.msgSize),
			"-batch", strconv.Itoa(c.batch))
	}
	return a
}

func (c *config) describe() string {
	switch c.scenario {
	case "fanout":
		return fmt.Sprintf("fanout: %d subscribers, %d events/s of %d bytes, %d writer goroutine(s), reader: %s, %v (%d events) per run, %d run(s), GOMAXPROCS %d",
			c.subs, c.rate, c.size, c.writers, c.reader, c.duration, c.events(), c.runs, runtime.GOMAXPROCS(0))
	default:
		durable := ""
		if c.durable {
			durable = ", each request made durable (group commit, pwrite+fdatasync)"
		}
		batch := ""
		if c.batch > 1 {
			batch = fmt.Sprintf(", %d deliveries per request", c.batch)
		}
		return fmt.Sprintf("reqresp: %d publishers (one request in flight each), %d subscribers, request %d B, response %d B, delivery %d B%s%s, %v per run, %d run(s), GOMAXPROCS %d",
			c.publishers, c.subs, c.reqSize, c.respSize, c.msgSize, batch, durable, c.duration, c.runs, runtime.GOMAXPROCS(0))
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  floor fanout  [-subs 1000] [-rate 200] [-size 100] [-writers 1] [-duration 10s] [-runs 1]
  floor reqresp [-publishers 16] [-subs 5000] [-durable] [-duration 10s] [-runs 1]
  floor all     [-runs 3] [-duration 8s] [-wait-idle 0]
Run "floor fanout -h" or "floor reqresp -h" for every flag.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch name := os.Args[1]; name {
	case "fanout", "reqresp":
		c := defaults(name)
		_ = c.flags().Parse(os.Args[2:]) // ExitOnError
		if err := c.check(); err != nil {
			fatal(err)
		}
		if c.load {
			os.Exit(runLoad(c))
		}
		runAndReport(c)
	case "all":
		fs := flag.NewFlagSet("all", flag.ExitOnError)
		runs := fs.Int("runs", 3, "runs of each measurement")
		d := fs.Duration("duration", 8*time.Second, "measured time of each run")
		idle := fs.Duration("wait-idle", 0, "before each run, wait up to this long for the machine to be idle (below 10% busy for 1s)")
		_ = fs.Parse(os.Args[2:])
		var cs []config
		for _, w := range []int{1, 0} {
			c := defaults("fanout")
			c.writers = w
			cs = append(cs, c)
		}
		cs = append(cs, defaults("reqresp"))
		e := defaults("reqresp")
		e.durable, e.subs = true, 16
		cs = append(cs, e)
		for i := range cs {
			cs[i].runs, cs[i].duration, cs[i].waitIdle = *runs, *d, *idle
			if err := cs[i].check(); err != nil {
				fatal(err)
			}
		}
		for _, c := range cs {
			runAndReport(c)
		}
	default:
		usage()
		os.Exit(2)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}

// runAndReport runs c's measurement c.runs times and prints the table.
func runAndReport(c config) {
	fmt.Println(c.describe())
	var rs []result
	for i := range c.runs {
		if c.waitIdle > 0 {
			waitIdle(c.waitIdle)
		}
		var r result
		var err error
		if c.scenario == "fanout" {
			r, err = fanoutServer(c)
		} else {
			r, err = reqrespServer(c)
		}
		if err != nil {
			fatal(fmt.Errorf("%s run %d: %w", c.scenario, i+1, err))
		}
		fmt.Fprintf(os.Stderr, "  run %d done\n", i+1)
		rs = append(rs, r)
	}
	if c.scenario == "fanout" {
		printTable(rs, fanoutMetrics)
	} else {
		printTable(rs, reqrespMetrics)
	}
	fmt.Println()
}

// result holds the numbers of one run, from both processes.
type result map[string]float64

// metric is one row of a table.
type metric struct {
	key, label string
	prec       int
}

func printTable(rs []result, ms []metric) {
	w := 0
	for _, m := range ms {
		w = max(w, len([]rune(m.label)))
	}
	fmt.Printf("  %-*s", w, "")
	for i := range rs {
		fmt.Printf(" %10s", fmt.Sprintf("run %d", i+1))
	}
	fmt.Printf(" %10s\n", "MEDIAN")
	for _, m := range ms {
		fmt.Printf("  %s%s", m.label, strings.Repeat(" ", w-len([]rune(m.label))))
		var vs []float64
		for _, r := range rs {
			v, ok := r[m.key]
			if !ok {
				v = math.NaN()
			}
			vs = append(vs, v)
			fmt.Printf(" %10.*f", m.prec, v)
		}
		fmt.Printf(" %10.*f\n", m.prec, median(vs))
	}
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile returns the p-th (0 < p ≤ 1) of sorted values.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// cpuTime is the CPU time this process has used so far (s).
type cpuTime struct{ user, sys float64 }

func cpuSeconds() cpuTime {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTime{math.NaN(), math.NaN()}
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return cpuTime{tv(ru.Utime), tv(ru.Stime)}
}

// since returns the CPU seconds used since t0 and the percentage of them
// spent in the kernel.
func (t cpuTime) since(t0 cpuTime) (total, sysPct float64) {
	u, s := t.user-t0.user, t.sys-t0.sys
	return u + s, 100 * s / (u + s)
}

// machineCPU returns the CPU seconds every process on the machine (and the
// kernel) has used since boot, and the time the hypervisor has stolen, from
// /proc/stat; NaN where there is none.
func machineCPU() (busy, steal float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return math.NaN(), math.NaN()
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return math.NaN(), math.NaN()
	}
	for i, s := range f[1:9] { // user nice system idle iowait irq softirq steal
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return math.NaN(), math.NaN()
		}
		switch i {
		case 3, 4:
		case 7:
			steal = v
		default:
			busy += v
		}
	}
	return busy / 100, steal / 100 // USER_HZ is 100 on Linux
}

// waitIdle waits, at most d, until the machine is less than 10% busy over
// one second.
func waitIdle(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		w := startMachineWindow()
		time.Sleep(time.Second)
		busy, _ := w.end()
		if math.IsNaN(busy) || busy < 0.1*float64(runtime.NumCPU()) {
			return
		}
	}
	fmt.Fprintf(os.Stderr, "  the machine was still busy after %v; running anyway\n", d)
}

// machineWindow measures the machine's CPU use over a window.
type machineWindow struct{ busy, steal float64 }

func startMachineWindow() machineWindow {
	b, s := machineCPU()
	return machineWindow{b, s}
}

// end returns the CPU seconds used and stolen since w started.
func (w machineWindow) end() (busy, steal float64) {
	b, s := machineCPU()
	return b - w.busy, s - w.steal
}

// The server side: the load process, its lifetime tied to ours.

type loadProc struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	res      result        // its RESULT lines, once done is closed
	err      error         // its exit status, once done is closed
	expected atomic.Bool   // the load process may exit now
	timer    *time.Timer
}

// startLoad starts the load process for c. It exits when we exit (its
// standard input, a pipe from us, closes); we exit if it exits before
// expectExit or if the run outlasts c.hardLimit.
func startLoad(c config, addr, addr2 string) (*loadProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, c.loadArgs(addr, addr2)...)
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &loadProc{cmd: cmd, done: make(chan struct{}), res: result{}}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "RESULT" {
				if v, err := strconv.ParseFloat(f[2], 64); err == nil {
					p.res[f[1]] = v
					continue
				}
			}
			fmt.Fprintln(os.Stderr, "load:", sc.Text())
		}
		p.err = cmd.Wait()
		close(p.done)
		if !p.expected.Load() {
			fmt.Fprintf(os.Stderr, "floor: load process %d exited before the end of the run: %v\n", cmd.Process.Pid, p.err)
			os.Exit(1)
		}
	}()
	p.timer = time.AfterFunc(c.hardLimit(), func() {
		p.kill()
		fmt.Fprintf(os.Stderr, "floor: run exceeded %v; stopped\n", c.hardLimit())
		os.Exit(1)
	})
	return p, nil
}

// kill kills the load process (ours, by its pid) unless it has exited.
func (p *loadProc) kill() {
	select {
	case <-p.done:
	default:
		p.expected.Store(true)
		_ = p.cmd.Process.Kill()
	}
}

// wait waits for the load process to exit by itself, at most d, and returns
// its results.
func (p *loadProc) wait(d time.Duration) (result, error) {
	p.expected.Store(true)
	defer p.timer.Stop()
	select {
	case <-p.done:
	case <-time.After(d):
		p.kill()
		<-p.done
		return nil, fmt.Errorf("load process did not exit within %v", d)
	}
	if p.err != nil {
		return nil, fmt.Errorf("load process: %w", p.err)
	}
	return p.res, nil
}

// acceptN accepts n connections on ln by setupBy; their deadline is hard.
func acceptN(ln *net.TCPListener, n int, setupBy, hard time.Time) ([]net.Conn, error) {
	if err := ln.SetDeadline(setupBy); err != nil {
		return nil, err
	}
	conns := make([]net.Conn, 0, n)
	for len(conns) < n {
		c, err := ln.Accept()
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("accepted %d of %d connections: %w", len(conns), n, err)
		}
		_ = c.SetDeadline(hard)
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// The load side.

// runLoad is the load process: it exits when the server's process does
// (standard input closes) and after c.hardLimit in any case.
func runLoad(c config) int {
	var finished atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		if !finished.Load() {
			fmt.Fprintln(os.Stderr, "floor -load: the server process has gone; exiting")
			os.Exit(1)
		}
	}()
	time.AfterFunc(c.hardLimit(), func() {
		fmt.Fprintf(os.Stderr, "floor -load: run exceeded %v; exiting\n", c.hardLimit())
		os.Exit(1)
	})
	hard := time.Now().Add(c.hardLimit())
	var r result
	var err error
	if c.scenario == "fanout" {
		r, err = fanoutLoad(c, hard)
	} else {
		r, err = reqrespLoad(c, hard)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor -load:", err)
		return 1
	}
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("RESULT %s %g\n", k, r[k])
	}
	finished.Store(true)
	return 0
}

// dialN opens n connections to addr by setupBy; their deadline is hard.
func dialN(addr string, n int, setupBy, hard time.Time) ([]net.Conn, error) {
	d := net.Dialer{Deadline: setupBy}
	conns := make([]net.Conn, 0, n)
	for len(conns) < n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("connected %d of %d: %w", len(conns), n, err)
		}
		_ = c.SetDeadline(hard)
		conns = append(conns, c)
	}
	return conns, nil
}
