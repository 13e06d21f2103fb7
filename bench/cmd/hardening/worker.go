//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// workerEnv, set in a process's environment, makes it a worker: it reads a
// fillJob on its standard input, opens the subscribers, writes a
// fillResult on its standard output, holds them until its standard input
// closes, and exits.
const workerEnv = "HARDENING_WORKER"

// maxPerWorker bounds the subscribers one worker holds (one open file
// each; a process may have 20,000 here).
const maxPerWorker = 8000

// workerHold bounds a worker's life, should its parent never close its
// standard input.
const workerHold = 15 * time.Minute

// fillJob is what a worker opens.
type fillJob struct {
	Addr        string        // the hub, host:port
	Target      string        // the request target of each subscription
	Count       int           // subscribers to open at most
	First       int           // index of the first (for its source address)
	PerAddr     int           // subscribers per source address
	Concurrency int           // attempts in flight
	Timeout     time.Duration // for each response's head
	StopAfter   int           // stop after this many refusals or timeouts
	Sock        sockOpts
}

// fillResult is what a worker opened.
type fillResult struct {
	Opened   int
	Refused  map[string]int // by status, "timeout", or error
	Took     time.Duration
	FirstErr string
}

// runWorker is a worker's main.
func runWorker(in io.Reader, out io.Writer) int {
	time.AfterFunc(workerHold, func() { os.Exit(1) })
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "hardening worker: reading the job:", err)
		return 1
	}
	var job fillJob
	if err := json.Unmarshal(line, &job); err != nil {
		fmt.Fprintln(os.Stderr, "hardening worker:", err)
		return 1
	}
	streams, res := fill(context.Background(), job)
	b, _ := json.Marshal(res)
	fmt.Fprintf(out, "%s\n", b)
	_, _ = io.Copy(io.Discard, br) // until the parent closes our input
	closeStreams(streams)
	return 0
}

// fill opens job.Count subscribers, or fewer once job.StopAfter attempts
// were refused or unanswered. The subscribers never read.
func fill(ctx context.Context, job fillJob) ([]*rawStream, fillResult) {
	start := time.Now()
	var (
		next, bad atomic.Int64
		mu        sync.Mutex
		streams   []*rawStream
		res       = fillResult{Refused: map[string]int{}}
		wg        sync.WaitGroup
	)
	for range max(job.Concurrency, 1) {
		wg.Go(func() {
			for bad.Load() < int64(job.StopAfter) {
				i := int(next.Add(1)) - 1
				if i >= job.Count {
					return
				}
				d := dialer(srcAddr(job.First+i, job.PerAddr), job.Sock, job.Timeout)
				s, err := openRaw(ctx, d, job.Addr, http.MethodGet, job.Target, nil, "", job.Timeout)
				mu.Lock()
				switch {
				case err != nil:
					bad.Add(1)
					k := "error"
					if errors.Is(err, errTimeout) {
						k = "timeout"
					} else if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
					res.Refused[k]++
				case s.status != http.StatusOK:
					bad.Add(1)
					res.Refused[strconv.Itoa(s.status)]++
					s.close()
				default:
					streams = append(streams, s)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Opened, res.Took = len(streams), time.Since(start)
	return streams, res
}

// fillers are worker processes holding subscribers.
type fillers struct {
	procs   []*exec.Cmd
	inputs  []io.WriteCloser
	results []fillResult
}

// startFillers opens count subscribers with target on the hub at addr,
// spread over worker processes (this program again), and waits until they
// have opened what they could.
func startFillers(ctx context.Context, e *env, addr, target string, count int, timeout time.Duration) (*fillers, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	n := (count + maxPerWorker - 1) / maxPerWorker
	f := &fillers{}
	type answer struct {
		res fillResult
		err error
	}
	answers := make(chan answer, n)
	first := 0
	for k := range n {
		c := count / n
		if k < count%n {
			c++
		}
		job := fillJob{Addr: addr, Target: target, Count: c, First: first, PerAddr: e.perAddr,
			Concurrency: 64, Timeout: timeout, StopAfter: 64, Sock: e.sock()}
		// Workers start at a source address of their own.
		first += ((c + e.perAddr - 1) / e.perAddr) * e.perAddr
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), workerEnv+"=1")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, err := cmd.StdinPipe()
		if err != nil {
			f.release()
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			f.release()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			f.release()
			return nil, err
		}
		f.procs, f.inputs = append(f.procs, cmd), append(f.inputs, in)
		b, _ := json.Marshal(job)
		if _, err := fmt.Fprintf(in, "%s\n", b); err != nil {
			f.release()
			return nil, err
		}
		go func() {
			line, err := bufio.NewReader(out).ReadBytes('\n')
			var a answer
			if err != nil {
				a.err = fmt.Errorf("worker %d: %v", cmd.Process.Pid, err)
			} else {
				a.err = json.Unmarshal(line, &a.res)
			}
			answers <- a
		}()
	}
	for range n {
		select {
		case a := <-answers:
			if a.err != nil {
				f.release()
				return nil, a.err
			}
			f.results = append(f.results, a.res)
		case <-ctx.Done():
			f.release()
			return nil, ctx.Err()
		}
	}
	return f, nil
}

// total sums what the workers opened and what was refused.
func (f *fillers) total() (opened int, refused map[string]int, took time.Duration, firstErr string) {
	refused = map[string]int{}
	for _, r := range f.results {
		opened += r.Opened
		for k, v := range r.Refused {
			refused[k] += v
		}
		took = max(took, r.Took)
		if firstErr == "" {
			firstErr = r.FirstErr
		}
	}
	return opened, refused, took, firstErr
}

// release makes the workers close their subscribers and exit, and kills
// (by pid) those that have not within 10 seconds.
func (f *fillers) release() {
	for _, in := range f.inputs {
		in.Close()
	}
	for _, p := range f.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	f.procs, f.inputs = nil, nil
}
