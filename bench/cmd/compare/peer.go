package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/herald-sse/herald/auth"
)

// peerProc is a running peer server.
type peerProc struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startPeer starts bin serving impl and waits until it listens.
func startPeer(ctx context.Context, bin, impl, jwtKey, dataDir string) (*peerProc, error) {
	cmd := exec.Command(bin, "-impl", impl, "-jwt-key", jwtKey, "-data-dir", dataDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peerProc{cmd: cmd, exited: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("%s: unexpected output %q", impl, line)
		}
		p.url = url
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s: the server exited at start", impl)
	case <-time.After(20 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s: the server did not start within 20s", impl)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

func (p *peerProc) exitedEarly() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop asks the server to stop (SIGTERM) and kills it, by pid, if it has not
// within 10 seconds.
func (p *peerProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return
	case <-time.After(10 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
}

func publisherToken(key string) (string, error) {
	return auth.Sign("HS256", []byte(key), auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
}
