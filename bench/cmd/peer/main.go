// Command peer serves one SSE implementation behind the two endpoints of the
// Mercure protocol that the benchmark uses, so that the load generator
// measures every implementation the same way:
//
//	GET  /.well-known/mercure?topic=T   subscribe (Last-Event-ID resumes)
//	POST /.well-known/mercure           publish a form: topic, data
//
// and, for Herald, its batch endpoint (POST /.well-known/mercure/herald/batch,
// NDJSON), which the batch scenarios use;
// plus /debug/memstats (the Go heap and stacks in use, after a GC) and, with
// -pprof, /debug/pprof/. It prints "listening <URL>" on standard output once
// it accepts connections, and stops on SIGINT or SIGTERM.
//
// Implementations (-impl):
//
//	herald-memory  Herald's hub, in-memory history
//	herald-bolt    Herald's hub, embedded durable store (bbolt, fsync'd)
//	mercure        Mercure v0.24.2 as a library, local transport (no history)
//	mercure-bolt   Mercure v0.24.2 as a library, Bolt transport
//	go-sse         tmaxmax/go-sse v0.11.0 (Joe, with a FiniteReplayer)
//	r3labs         r3labs/sse v2.10.0 (one stream per topic, its event log)
//
// Herald and Mercure check a publisher JWT (HS256, -jwt-key); go-sse and
// r3labs have no authorization.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// Path is the Mercure endpoint every implementation is served at.
const Path = "/.well-known/mercure"

// impl is one implementation, ready to serve.
type impl struct {
	handler http.Handler
	close   func()
	// below: the handler also serves the paths below Path (Herald's batch
	// endpoint, Path + "/herald/batch").
	below bool
}

var impls = map[string]func(cfg config) (*impl, error){
	"herald-memory": newHeraldMemory,
	"herald-bolt":   newHeraldBolt,
	"mercure":       newMercureLocal,
	"mercure-bolt":  newMercureBolt,
	"go-sse":        newGoSSE,
	"r3labs":        newR3labs,
}

type config struct {
	jwtKey  string
	dataDir string
}

func main() {
	name := flag.String("impl", "herald-memory", "implementation to serve")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	withPprof := flag.Bool("pprof", false, "serve /debug/pprof/")
	var cfg config
	flag.StringVar(&cfg.jwtKey, "jwt-key", "bench-secret", "HMAC key of publisher tokens (Herald, Mercure)")
	flag.StringVar(&cfg.dataDir, "data-dir", "", "directory of durable stores (default: a temporary one, removed at exit)")
	flag.Parse()
	if err := run(*name, *addr, *withPprof, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run(name, addr string, withPprof bool, cfg config) error {
	mk, ok := impls[name]
	if !ok {
		return fmt.Errorf("unknown implementation %q", name)
	}
	if cfg.dataDir == "" {
		dir, err := os.MkdirTemp("", "peer-"+name+"-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.dataDir = dir
	}
	im, err := mk(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, im.handler)
	if im.below {
		mux.Handle(Path+"/", im.handler)
	}
	mux.HandleFunc("GET /debug/memstats", memstats)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(errorLog(), "peer: ", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("listening http://%s%s\n", ln.Addr(), Path)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// A benchmark server: no graceful shutdown of streams.
	srv.Close()
	im.close()
	return nil
}

// memstats answers with the Go heap and stacks in use after a collection,
// in the shape of expvar's /debug/vars.
func memstats(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"memstats": map[string]uint64{
		"HeapInuse": m.HeapInuse, "StackInuse": m.StackInuse, "HeapAlloc": m.HeapAlloc, "Sys": m.Sys,
	}})
}

// errorLog is where the HTTP server's errors go: standard error with
// PEER_DEBUG=1 (handler panics show there), else nowhere.
func errorLog() io.Writer {
	if os.Getenv("PEER_DEBUG") == "1" {
		return os.Stderr
	}
	return io.Discard
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
