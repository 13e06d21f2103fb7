package web

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxClients bounds the client buckets a limiter keeps. When that many
// clients are active at once, the clients it does not know yet share one
// more bucket.
const maxClients = 10_000

// limiter is a token bucket per client address plus one for everyone.
type limiter struct {
	rate   rate.Limit
	burst  int
	refill time.Duration // how long an empty client bucket takes to fill up
	global *rate.Limiter

	mu        sync.Mutex
	clients   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perClient float64, burst int, global float64, globalBurst int) *limiter {
	return &limiter{
		rate:    rate.Limit(perClient),
		burst:   burst,
		refill:  time.Duration(math.Ceil(float64(burst)/perClient*float64(time.Second))) + time.Second,
		global:  rate.NewLimiter(rate.Limit(global), globalBurst),
		clients: make(map[string]*bucket),
	}
}

// allow takes a token from client's bucket and from the global one, at now.
// When either is empty it takes nothing and says how long to wait.
func (l *limiter) allow(client string, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute || len(l.clients) >= maxClients {
		l.sweep(now)
	}
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= maxClients {
			client = "" // the overflow bucket
			b = l.clients[client]
		}
		if b == nil {
			b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
			l.clients[client] = b
		}
	}
	b.seen = now
	c := b.lim.ReserveN(now, 1)
	if d := c.DelayFrom(now); d > 0 {
		c.CancelAt(now)
		return false, d
	}
	g := l.global.ReserveN(now, 1)
	if d := g.DelayFrom(now); d > 0 {
		g.CancelAt(now)
		c.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets the clients whose bucket is full again: a new bucket would
// be the same.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.clients {
		if now.Sub(b.seen) > l.refill {
			delete(l.clients, k)
		}
	}
}

// clientKey identifies the client of r for rate limiting: its IP address,
// or its /64 network for IPv6 (one host usually holds a whole /64). The
// address is the connection's peer: put the hub behind a proxy that
// limits, or accept that all its clients share one bucket.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
	return ip.String()
}
