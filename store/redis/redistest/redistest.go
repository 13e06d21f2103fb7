// Package redistest runs throwaway redis-server processes for tests: each
// on a free 127.0.0.1 port with its own temporary directory, stopped by pid
// when the test ends.
//
// When redis-server is not installed, Start skips the test, or fails it when
// the environment variable CI is "true" (so that CI never passes by skipping;
// the repository's test.sh installs redis-server from Debian).
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Options configures a Server.
type Options struct {
	// Persist makes Redis keep its data across Stop and Start (an
	// append-only file fsync'd on every write). Without it, a restarted
	// server is empty: Redis "lost its data".
	Persist bool
}

// Server is one redis-server process (or none, between Stop and Start).
type Server struct {
	tb   testing.TB
	bin  string
	port int
	dir  string
	opts Options
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a redis-server and stops it when tb ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server is not installed (CI=true, so this is a failure): install the Debian package redis-server (test.sh does): %v", err)
		}
		tb.Skipf("redis-server is not installed (apt-get install redis-server); skipping: %v", err)
	}
	s := &Server{tb: tb, bin: bin, port: freePort(tb), dir: tb.TempDir(), opts: opts}
	tb.Cleanup(s.Kill)
	s.Start()
	return s
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL returns a Herald store URL for the server and stream.
func (s *Server) URL(stream string) string {
	return "redis://" + s.Addr() + "/0?stream=" + stream
}

// Start starts the server again after Stop or Kill, on the same port and
// directory, and waits until it answers PING. It is a no-op while running.
func (s *Server) Start() {
	s.tb.Helper()
	if s.cmd != nil {
		return
	}
	aof := "no"
	if s.opts.Persist {
		aof = "yes"
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.tb.Fatalf("redistest: %v", err)
	}
	defer logf.Close()
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", aof, "--appendfsync", "always",
		"--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("redistest: start redis-server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(10 * time.Second)
	for !s.ping() {
		select {
		case <-s.done:
			s.cmd = nil
			s.tb.Fatalf("redistest: redis-server exited at start:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.tb.Fatalf("redistest: redis-server did not answer within 10s:\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping reports whether the server answers PING.
func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Stop shuts the server down gracefully (SIGTERM, then SIGKILL after 5 s)
// and waits for it to exit.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, 5*time.Second) }

// Kill kills the server (SIGKILL) and waits for it to exit. Data not yet
// fsync'd is lost; with Options.Persist every write is fsync'd first.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, 0) }

func (s *Server) signal(sig syscall.Signal, grace time.Duration) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-s.done:
		case <-time.After(grace):
			_ = s.cmd.Process.Kill()
		}
	}
	<-s.done
	s.cmd = nil
}

// Log returns what the server logged so far.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}
