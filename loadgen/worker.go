package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// A run's subscribers live in groups: one in this process, or one per worker
// process. A worker is this same program started as a child (see
// Config.WorkerCommand and RunWorker); it reads its groupConfig, then
// commands, as JSON lines on its standard input, and writes its replies and
// progress as JSON lines on its standard output.

type connectStats struct {
	Connected  int           `json:"connected"`
	Errors     int           `json:"errors"`
	Duration   time.Duration `json:"duration"`
	FirstError string        `json:"first_error,omitempty"`
}

type progressCounts struct {
	Deliveries  uint64 `json:"deliveries"`
	Connected   int    `json:"connected"`
	Errors      int    `json:"errors"`
	Disconnects int    `json:"disconnects"`
}

type stormStats struct {
	Dropped  int           `json:"dropped"`
	Resumed  int           `json:"resumed"`
	Duration time.Duration `json:"duration"`
	Errors   int           `json:"errors"`
}

type groupResult struct {
	Received    uint64        `json:"received"`
	Expected    uint64        `json:"expected"`
	Lost        uint64        `json:"lost"`
	OutOfOrder  uint64        `json:"out_of_order"`
	Foreign     uint64        `json:"foreign"`
	Latency     histogramJSON `json:"latency"`
	Disconnects int           `json:"disconnects"`
	Reconnects  int           `json:"reconnects"`
	Errors      int           `json:"errors"`
	FirstError  string        `json:"first_error,omitempty"`
}

// group is a set of subscribers, here or in a worker process.
type group interface {
	connect(ctx context.Context) connectStats
	progress() progressCounts
	// record starts or stops recording latencies; it returns the deliveries
	// so far and the CPU time the group's process has used (0 in process).
	record(on bool) (deliveries uint64, cpu time.Duration)
	storm(ctx context.Context, timeout time.Duration) stormStats
	drain(ctx context.Context, finals [][]uint64, timeout time.Duration) groupResult
	close(timeout time.Duration)
}

func (g *localGroup) record(on bool) (uint64, time.Duration) { return g.setRecording(on), 0 }

var _ group = (*localGroup)(nil)
var _ group = (*procGroup)(nil)

// workerCommand is a message to a worker.
type workerCommand struct {
	Op      string        `json:"op"` // record, storm, drain, close
	On      bool          `json:"on,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
	Finals  [][]uint64    `json:"finals,omitempty"`
}

// workerReply is a message from a worker.
type workerReply struct {
	Kind       string          `json:"kind"` // connected, progress, record, storm, result, error
	Connect    *connectStats   `json:"connect,omitempty"`
	Progress   *progressCounts `json:"progress,omitempty"`
	Deliveries uint64          `json:"deliveries,omitempty"`
	CPU        time.Duration   `json:"cpu,omitempty"`
	Storm      *stormStats     `json:"storm,omitempty"`
	Result     *groupResult    `json:"result,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// RunWorker runs a worker: the subscribers a parent run (with Config.Workers
// > 0) asks for on in, reporting on out. It returns when the parent says so,
// when in ends (the parent is gone), or when ctx is done; it always closes
// its streams first.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	if !sc.Scan() {
		return errors.New("loadgen: worker: no configuration on standard input")
	}
	var cfg groupConfig
	if err := json.Unmarshal(sc.Bytes(), &cfg); err != nil {
		return fmt.Errorf("loadgen: worker: configuration: %w", err)
	}
	g, err := newLocalGroup(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer g.close(10 * time.Second)

	var mu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(r workerReply) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(r)
	}
	// Progress, twice a second, until the worker ends.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p := g.progress()
				if send(workerReply{Kind: "progress", Progress: &p}) != nil {
					cancel()
					return
				}
			}
		}
	})

	cs := g.connect(ctx)
	if err := send(workerReply{Kind: "connected", Connect: &cs}); err != nil {
		return err
	}
	// Commands come one at a time; the parent waits for each reply.
	cmds := make(chan workerCommand)
	go func() {
		defer close(cmds)
		for sc.Scan() {
			var c workerCommand
			if json.Unmarshal(sc.Bytes(), &c) != nil {
				continue
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var c workerCommand
		var ok bool
		select {
		case c, ok = <-cmds:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok || c.Op == "close" {
			return nil
		}
		var r workerReply
		switch c.Op {
		case "record":
			d, _ := g.record(c.On)
			r = workerReply{Kind: "record", Deliveries: d, CPU: selfCPU()}
		case "storm":
			s := g.storm(ctx, c.Timeout)
			r = workerReply{Kind: "storm", Storm: &s}
		case "drain":
			res := g.drain(ctx, c.Finals, c.Timeout)
			r = workerReply{Kind: "result", Result: &res, CPU: selfCPU()}
		default:
			r = workerReply{Kind: "error", Error: fmt.Sprintf("unknown command %q", c.Op)}
		}
		if err := send(r); err != nil {
			return err
		}
	}
}

// procGroup is a worker process seen from the parent.
type procGroup struct {
	cmd     *exec.Cmd
	enc     *json.Encoder
	stdin   io.WriteCloser
	replies chan workerReply
	prog    atomic.Pointer[progressCounts]
	exited  chan struct{}
	werr    error
	cpu     time.Duration // from the last result
	lost    atomic.Bool   // the worker is gone
}

// startWorker starts a worker process for cfg.
func startWorker(ctx context.Context, mk func(context.Context) *exec.Cmd, cfg groupConfig, stderr io.Writer) (*procGroup, error) {
	cmd := mk(ctx)
	if cmd.Stderr == nil {
		cmd.Stderr = stderr
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadgen: starting a worker: %w", err)
	}
	p := &procGroup{
		cmd:     cmd,
		enc:     json.NewEncoder(stdin),
		stdin:   stdin,
		replies: make(chan workerReply, 4),
		exited:  make(chan struct{}),
	}
	go func() {
		defer close(p.replies)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			var r workerReply
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue
			}
			if r.Kind == "progress" && r.Progress != nil {
				p.prog.Store(r.Progress)
				continue
			}
			p.replies <- r
		}
		p.lost.Store(true)
	}()
	go func() {
		p.werr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.enc.Encode(cfg); err != nil {
		p.close(time.Second)
		return nil, fmt.Errorf("loadgen: configuring a worker: %w", err)
	}
	return p, nil
}

// await returns the next reply of kind, or an error when the worker dies,
// ctx ends or timeout passes.
func (p *procGroup) await(ctx context.Context, kind string, timeout time.Duration) (workerReply, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case r, ok := <-p.replies:
			if !ok {
				return r, fmt.Errorf("loadgen: worker %d exited", p.cmd.Process.Pid)
			}
			if r.Kind == kind {
				return r, nil
			}
			if r.Kind == "error" {
				return r, fmt.Errorf("loadgen: worker: %s", r.Error)
			}
		case <-t.C:
			return workerReply{}, fmt.Errorf("loadgen: worker %d did not answer %s in %v", p.cmd.Process.Pid, kind, timeout)
		case <-ctx.Done():
			return workerReply{}, ctx.Err()
		}
	}
}

func (p *procGroup) send(c workerCommand) error { return p.enc.Encode(c) }

func (p *procGroup) connect(ctx context.Context) connectStats {
	r, err := p.await(ctx, "connected", 30*time.Minute)
	if err != nil || r.Connect == nil {
		return connectStats{FirstError: fmt.Sprint(err)}
	}
	return *r.Connect
}

func (p *procGroup) progress() progressCounts {
	if c := p.prog.Load(); c != nil {
		return *c
	}
	return progressCounts{}
}

func (p *procGroup) record(on bool) (uint64, time.Duration) {
	if p.send(workerCommand{Op: "record", On: on}) != nil {
		return p.progress().Deliveries, 0
	}
	r, err := p.await(context.Background(), "record", 30*time.Second)
	if err != nil {
		return p.progress().Deliveries, 0
	}
	return r.Deliveries, r.CPU
}

func (p *procGroup) storm(ctx context.Context, timeout time.Duration) stormStats {
	if p.send(workerCommand{Op: "storm", Timeout: timeout}) != nil {
		return stormStats{}
	}
	r, err := p.await(ctx, "storm", timeout+30*time.Second)
	if err != nil || r.Storm == nil {
		return stormStats{}
	}
	return *r.Storm
}

func (p *procGroup) drain(ctx context.Context, finals [][]uint64, timeout time.Duration) groupResult {
	if err := p.send(workerCommand{Op: "drain", Finals: finals, Timeout: timeout}); err != nil {
		return groupResult{FirstError: err.Error()}
	}
	r, err := p.await(ctx, "result", timeout+60*time.Second)
	if err != nil || r.Result == nil {
		return groupResult{FirstError: fmt.Sprint(err)}
	}
	p.cpu = r.CPU
	return *r.Result
}

// close asks the worker to end, and kills it (by pid) if it has not within
// timeout.
func (p *procGroup) close(timeout time.Duration) {
	_ = p.send(workerCommand{Op: "close"})
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		return
	case <-time.After(timeout):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
}
