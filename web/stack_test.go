package web_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/memory"
	"github.com/herald-sse/herald/web"
)

// testKey signs and verifies every token in the browser tests (HS256).
var testKey = []byte("herald-browser-test-key-0123456789abcdef")

// token mints a token signed with testKey.
func token(t *testing.T, g auth.Grant) string {
	t.Helper()
	g.TTL = time.Hour
	tok, err := auth.Sign("HS256", testKey, g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// stackConfig describes a whole hub as `herald serve` wires it: store, hub,
// Mercure handler with JWT keys, and the demo.
type stackConfig struct {
	ln       net.Listener  // listen here; nil: a new listener on addr
	addr     string        // default 127.0.0.1:0
	boltDir  string        // durable store in this directory; "": in memory
	cors     []string      // CORS origins of the hub and the demo
	hubURL   string        // the page talks to this hub instead of its own
	interval time.Duration // tick period; default 500ms
	noSend   bool          // --demo=false
}

// stack is a running hub.
type stack struct {
	URL  string // http://host:port
	Addr string // host:port
	Hub  *hub.Hub
	stop func()
}

func startStack(t *testing.T, c stackConfig) *stack {
	t.Helper()
	var store herald.Store
	if c.boltDir != "" {
		s, err := bolt.Open(c.boltDir, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store = s
	} else {
		store = memory.New(memory.Options{})
	}
	h := hub.New(store, hub.Options{ShutdownRetry: 200 * time.Millisecond, Logger: quiet})
	verifier, err := auth.NewVerifier(auth.Config{Keys: [][]byte{testKey}, Algs: []string{"HS256"}})
	if err != nil {
		t.Fatal(err)
	}
	mh, err := mercure.New(mercure.Config{Hub: h, Publishers: verifier, Subscribers: verifier, CORSOrigins: c.cors, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if c.interval == 0 {
		c.interval = 500 * time.Millisecond
	}
	d, err := web.New(web.Config{
		Hub: h, AllowPublish: !c.noSend, Interval: c.interval,
		HubURL: c.hubURL, CORSOrigins: c.cors, Logger: quiet,
		SendBurst: 50, GlobalSendBurst: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(mercure.Path, mh)
	mux.Handle(mercure.Path+"/", mh)
	mux.Handle("/", d)

	ln := c.ln
	if ln == nil {
		addr := c.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		// A restarted hub listens on the port its predecessor just left.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ln, err = net.Listen("tcp", addr)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	srv.RegisterOnShutdown(h.CloseStreams)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()

	s := &stack{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), Hub: h}
	s.stop = sync.OnceFunc(func() {
		// As `herald serve` stops: end the streams (clients reconnect),
		// then the server, the demo and the store.
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		herr := make(chan error, 1)
		go func() { herr <- h.Close(sctx) }()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutting the server down: %v", err)
		}
		if err := <-herr; err != nil {
			t.Errorf("closing the hub: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		cancel()
		<-ran
		if err := store.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	t.Cleanup(s.stop)
	return s
}

// publish publishes an update on s's hub, directly.
func (s *stack) publish(t *testing.T, u herald.Update) herald.Update {
	t.Helper()
	stored, err := s.Hub.Publish(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}
