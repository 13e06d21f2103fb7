// Package natstest runs a nats-server with JetStream inside the test
// process (from the nats-server Go module), on a free 127.0.0.1 port with
// its storage in a temporary directory, shut down when the test ends.
package natstest

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is one embedded nats-server (or none, between Shutdown and Start).
type Server struct {
	tb   testing.TB
	opts server.Options
	srv  *server.Server
}

// Start starts a nats-server with JetStream and shuts it down when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("natstest: find a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{tb: tb, opts: server.Options{
		Host:               "127.0.0.1",
		Port:               port,
		JetStream:          true,
		StoreDir:           tb.TempDir(),
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 30,
		NoLog:              true,
		NoSigs:             true,
	}}
	tb.Cleanup(s.Shutdown)
	s.Start()
	return s
}

// URL returns a Herald store URL for the server and stream.
func (s *Server) URL(stream string) string {
	return "nats://" + s.Addr() + "?stream=" + stream
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return s.opts.Host + ":" + strconv.Itoa(s.opts.Port)
}

// Start starts the server again after Shutdown, on the same port and with
// the same storage (file-stored streams survive). It is a no-op while running.
func (s *Server) Start() {
	s.tb.Helper()
	if s.srv != nil {
		return
	}
	opts := s.opts // the server keeps and changes its options
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.tb.Fatalf("natstest: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.tb.Fatal("natstest: nats-server was not ready within 10s")
	}
	s.srv = srv
}

// Shutdown stops the server and waits until it is down.
func (s *Server) Shutdown() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Wipe deletes the server's storage while it is shut down, so that the next
// Start begins empty, as a server that lost its disk would.
func (s *Server) Wipe() {
	s.tb.Helper()
	if s.srv != nil {
		s.tb.Fatal("natstest: Wipe while the server runs; Shutdown first")
	}
	if err := os.RemoveAll(s.opts.StoreDir); err != nil {
		s.tb.Fatalf("natstest: %v", err)
	}
}
