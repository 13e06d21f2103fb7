package main

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-sse/herald/mercure"
)

// listenerMetrics is what limitListener counts.
type listenerMetrics interface {
	AcceptError()
	ConnectionRefused()
}

// limitListener bounds the hub's client connections and makes running out
// of file descriptors visible and quick to answer, where net/http alone
// would retry accepting in silence while clients wait:
//
//   - past max open connections, a new one is answered "503 Service
//     Unavailable" with Retry-After at once (plain HTTP; over TLS it is only
//     closed) and closed, so clients, /healthz checks and publishers get a
//     clear answer rather than a hang; refusals are counted;
//   - when accepting fails for want of file descriptors (EMFILE, ENFILE), it
//     lets go of a descriptor it keeps in reserve, accepts the waiting
//     connection, refuses it the same way, and takes its reserve back;
//   - accept errors are logged at warn level, at most once a second, and
//     counted.
type limitListener struct {
	net.Listener
	max       int // 0: no limit
	perClient int // 0: no limit
	unsent    int // bytes a connection may leave unsent in the kernel (TCP_NOTSENT_LOWAT); 0: the kernel's default
	trusted   func(netip.Addr) bool
	tls       bool
	log       *slog.Logger
	metrics   listenerMetrics

	open    atomic.Int64
	clients sync.Map // address key -> *atomic.Int64: its open connections

	mu      sync.Mutex
	reserve *os.File // a spare descriptor for shedding at EMFILE; nil when it could not be had
	closed  bool
	logged  time.Time
}

// What refused plain-HTTP connections are told.
var (
	refusal = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 71\r\n\r\n" +
		"the hub has as many connections open as it may; try again in a moment\n")
	clientRefusal = []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 66\r\n\r\n" +
		"your address has as many connections open as one client may here\n")
)

// newLimitListener bounds ln's connections to max (0: none), and to
// perClient from one address (0: none) except from addresses trusted
// reports true for (proxies, whose connections carry many clients).
func newLimitListener(ln net.Listener, max, perClient int, trusted func(netip.Addr) bool, tls bool, log *slog.Logger, m listenerMetrics) *limitListener {
	l := &limitListener{Listener: ln, max: max, perClient: perClient, trusted: trusted, tls: tls, log: log, metrics: m}
	l.reserve, _ = os.Open(os.DevNull)
	return l
}

// Open returns the number of client connections open now.
func (l *limitListener) Open() int { return int(l.open.Load()) }

// Accept returns the next connection within the limit.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					l.acceptError(err)
					continue
				}
				return nil, err
			}
			l.acceptError(err)
			l.shed()
			continue
		}
		if l.max > 0 && l.open.Load() >= int64(l.max) {
			l.refuse(c, refusal)
			continue
		}
		client := l.clientCount(c)
		if client != nil && client.Add(1) > int64(l.perClient) {
			client.Add(-1)
			l.refuse(c, clientRefusal)
			continue
		}
		if err := limitUnsent(c, l.unsent); err != nil {
			l.log.Debug("could not bound the connection's unsent bytes", "err", err)
		}
		l.open.Add(1)
		return &countedConn{Conn: c, l: l, client: client}, nil
	}
}

// clientCount returns the count of open connections of c's address, or nil
// when they are not limited.
func (l *limitListener) clientCount(c net.Conn) *atomic.Int64 {
	if l.perClient <= 0 {
		return nil
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil || (l.trusted != nil && l.trusted(ap.Addr().Unmap())) {
		return nil
	}
	v, _ := l.clients.LoadOrStore(mercure.AddressKey(ap.Addr()), new(atomic.Int64))
	return v.(*atomic.Int64)
}

// shed frees the reserve descriptor, accepts one waiting connection with it
// and refuses it, then takes the reserve back. Without a reserve it waits a
// little, as net/http would, so as not to spin. It runs on the accepting
// goroutine only.
func (l *limitListener) shed() {
	l.mu.Lock()
	reserve := l.reserve
	l.reserve = nil
	l.mu.Unlock()
	if reserve == nil {
		time.Sleep(10 * time.Millisecond)
	} else {
		reserve.Close()
		// The connection that could not be accepted is waiting; do not
		// block if it went away meanwhile.
		if tl, ok := l.Listener.(*net.TCPListener); ok {
			_ = tl.SetDeadline(time.Now().Add(50 * time.Millisecond))
			defer tl.SetDeadline(time.Time{})
		}
		if c, err := l.Listener.Accept(); err == nil {
			l.refuse(c, refusal)
		}
	}
	reserve, _ = os.Open(os.DevNull)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed && reserve != nil {
		reserve.Close()
		return
	}
	l.reserve = reserve
}

// refuse answers c with answer (unless it is TLS) and closes it.
func (l *limitListener) refuse(c net.Conn, answer []byte) {
	l.metrics.ConnectionRefused()
	if !l.tls {
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(answer)
	}
	c.Close()
}

// acceptError counts err and logs it, at most once a second.
func (l *limitListener) acceptError(err error) {
	l.metrics.AcceptError()
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.logged) < time.Second {
		l.mu.Unlock()
		return
	}
	l.logged = now
	l.mu.Unlock()
	l.log.Warn("accepting a connection failed; refusing connections until descriptors are free (see herald_accept_errors_total)",
		"err", err, "open_connections", l.Open())
}

// Close closes the listener and its reserve descriptor.
func (l *limitListener) Close() error {
	l.mu.Lock()
	l.closed = true
	if l.reserve != nil {
		l.reserve.Close()
		l.reserve = nil
	}
	l.mu.Unlock()
	return l.Listener.Close()
}

// countedConn is a connection counted as open until it is closed (by the
// server, or by the hub that took it over).
type countedConn struct {
	net.Conn
	l      *limitListener
	client *atomic.Int64 // its address's count; nil when not counted
	once   sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.open.Add(-1)
		if c.client != nil {
			c.client.Add(-1) // an address's count stays, at 0: few addresses, 8 bytes each
		}
	})
	return c.Conn.Close()
}
