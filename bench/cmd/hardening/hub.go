//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-sse/herald/auth"
)

// hubSpec says how to start a hub.
type hubSpec struct {
	bin    string   // the herald binary
	store  string   // "bolt" (in a fresh data directory) or "memory"
	nofile int      // when > 0, the hub's open-file limit (ulimit -n)
	args   []string // extra flags, as --name=value; those the binary lacks are left out
}

// hubProc is a running `herald serve`, ours: it is stopped by its pid.
type hubProc struct {
	cmd     *exec.Cmd
	pid     int
	base    string // http://127.0.0.1:port
	addr    string // 127.0.0.1:port
	key     string // its JWT key
	token   string // a publisher token for every topic
	dir     string // its data directory and log
	log     string // path of its log (stderr)
	omitted []string
	exited  chan struct{}
	warns   atomic.Int64 // log lines at warn level or above
	rss     *rssSampler

	mu       sync.Mutex
	warnMsgs map[string]int
}

// flagPattern finds flag names in `herald serve -h`.
var flagPattern = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)

// supportedFlags returns the flags bin's serve command takes: an older hub
// lacks the newer limits, and the scenarios leave out what it lacks.
func supportedFlags(bin string) (map[string]bool, error) {
	out, _ := exec.Command(bin, "serve", "-h").CombinedOutput() // -h exits 0 or 2
	m := map[string]bool{}
	for _, g := range flagPattern.FindAllStringSubmatch(string(out), -1) {
		m[g[1]] = true
	}
	if !m["addr"] {
		return nil, fmt.Errorf("%s serve -h lists no --addr flag: is it a herald binary?\n%s", bin, out)
	}
	return m, nil
}

// flagName returns the name of "--name=value" or "--name".
func flagName(arg string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}

// startHub starts a hub as spec says, on 127.0.0.1 and a free port, and
// waits until it listens. The hub is killed if this process dies
// (Pdeathsig), and by stop otherwise.
func startHub(ctx context.Context, spec hubSpec, dir string) (*hubProc, error) {
	flags, err := supportedFlags(spec.bin)
	if err != nil {
		return nil, err
	}
	var kb [16]byte
	_, _ = rand.Read(kb[:])
	p := &hubProc{key: hex.EncodeToString(kb[:]), dir: dir, exited: make(chan struct{}), warnMsgs: map[string]int{}}
	if p.token, err = auth.Sign("HS256", []byte(p.key), auth.Grant{Publish: []string{"*"}, TTL: 2 * time.Hour}); err != nil {
		return nil, err
	}
	store := "memory:"
	if spec.store == "bolt" {
		store = "bolt:" + filepath.Join(dir, "data")
	}
	args := []string{"serve", "--addr=127.0.0.1:0", "--store=" + store, "--data-dir=" + filepath.Join(dir, "data"),
		"--jwt-key=" + p.key, "--log-format=json", "--log-level=info"}
	for _, a := range spec.args {
		if flags[flagName(a)] {
			args = append(args, a)
		} else {
			p.omitted = append(p.omitted, a)
		}
	}
	var cmd *exec.Cmd
	if spec.nofile > 0 {
		// exec keeps the pid: the process we signal is the hub itself.
		cmd = exec.Command("sh", append([]string{"-c", `ulimit -n "$1" && shift && exec "$@"`, "sh", strconv.Itoa(spec.nofile), spec.bin}, args...)...)
	} else {
		cmd = exec.Command(spec.bin, args...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.log = filepath.Join(dir, "hub.log")
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p.cmd, p.pid = cmd, cmd.Process.Pid
	listening := make(chan string, 1)
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			logf.Write(line)
			logf.Write([]byte{'\n'})
			var rec struct {
				Level, Msg, URL string
			}
			if json.Unmarshal(line, &rec) != nil {
				continue
			}
			switch {
			case rec.Msg == "herald is listening":
				select {
				case listening <- rec.URL:
				default:
				}
			case rec.Level == "WARN" || rec.Level == "ERROR":
				p.warns.Add(1)
				p.mu.Lock()
				p.warnMsgs[rec.Msg]++
				p.mu.Unlock()
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	select {
	case u := <-listening:
		pu, err := url.Parse(u)
		if err != nil {
			p.stop()
			return nil, fmt.Errorf("the hub logged a bad url %q", u)
		}
		p.base, p.addr = u, pu.Host
	case <-p.exited:
		return nil, fmt.Errorf("the hub exited at start; its log: %s", p.log)
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, fmt.Errorf("the hub did not listen within 30s; its log: %s", p.log)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	p.rss = startRSS(p.pid, 200*time.Millisecond)
	return p, nil
}

// hubURL is the Mercure endpoint.
func (p *hubProc) hubURL() string { return p.base + "/.well-known/mercure" }

// alive reports whether the hub still runs.
func (p *hubProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop stops the hub: SIGTERM, then SIGKILL after 12s (its shutdown
// timeout is 10s), by its pid.
func (p *hubProc) stop() {
	if p.rss != nil {
		p.rss.stop()
	}
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return
	case <-time.After(12 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
}

// warnSummary lists the messages the hub logged at warn level or above.
func (p *hubProc) warnSummary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.warnMsgs) == 0 {
		return "none"
	}
	var parts []string
	for m, n := range p.warnMsgs {
		parts = append(parts, fmt.Sprintf("%q ×%d", m, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// rssSampler reads a process's resident memory (VmRSS) from /proc at a
// fixed interval and keeps every sample.
type rssSampler struct {
	pid  int
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	samples []rssSample
}

type rssSample struct {
	at  time.Time
	rss int64 // bytes
	tcp int64 // bytes of the whole machine's TCP buffers
}

func startRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	s.sample()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() { s.once.Do(func() { close(s.done) }) }

func (s *rssSampler) sample() int64 {
	v, err := rssOf(s.pid)
	if err != nil {
		return 0
	}
	s.mu.Lock()
	s.samples = append(s.samples, rssSample{time.Now(), v, tcpMem()})
	s.mu.Unlock()
	return v
}

// now samples the RSS at once.
func (s *rssSampler) now() int64 { return s.sample() }

// peak returns the highest sample taken in [from, to].
func (s *rssSampler) peak(from, to time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m int64
	for _, x := range s.samples {
		if !x.at.Before(from) && !x.at.After(to) {
			m = max(m, x.rss)
		}
	}
	return m
}

// tcpPeak returns the highest reading of the machine's TCP buffers in
// [from, to].
func (s *rssSampler) tcpPeak(from, to time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m int64
	for _, x := range s.samples {
		if !x.at.Before(from) && !x.at.After(to) {
			m = max(m, x.tcp)
		}
	}
	return m
}

// tcpMem returns the memory of every TCP socket's buffers on the machine,
// in bytes (/proc/net/sockstat counts it in pages): memory a hub's
// connections hold in the kernel, outside its RSS.
func tcpMem() int64 {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("TCP:")); ok {
			f := bytes.Fields(rest)
			for i := 0; i+1 < len(f); i += 2 {
				if string(f[i]) == "mem" {
					n, _ := strconv.ParseInt(string(f[i+1]), 10, 64)
					return n * int64(os.Getpagesize())
				}
			}
		}
	}
	return 0
}

// rssOf returns the resident set size of pid, in bytes.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// openFiles returns how many file descriptors pid has open.
func openFiles(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

// loadAvg returns the machine's 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
