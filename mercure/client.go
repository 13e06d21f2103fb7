package mercure

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddress returns the address a request's client is counted under for
// per-client limits (hub.Options.MaxClientSubscribers): the IP of the
// connection's peer. An IPv6 address stands for its /64, which one host or
// home usually holds whole, so that a client cannot escape its limit by
// changing the low bits.
func ClientAddress(r *http.Request) string {
	return clientOf(peerAddr(r))
}

// AddressKey returns the key an address is counted under for per-client
// limits, as ClientAddress does: the address, or its /64 for IPv6.
func AddressKey(a netip.Addr) string { return clientOf(a.Unmap()) }

// ForwardedClientAddress returns a ClientAddress for a hub behind proxies:
// when the connection's peer is in trusted (the proxies' addresses), the
// client is the last address of X-Forwarded-For that is not trusted (the
// one the nearest trusted proxy saw); otherwise it is the peer, whatever
// the header says, since anyone can send it.
func ForwardedClientAddress(trusted []netip.Prefix) func(*http.Request) string {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		addr := peerAddr(r)
		if !addr.IsValid() || !isTrusted(addr) {
			return clientOf(addr)
		}
		hops := r.Header.Values("X-Forwarded-For")
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return clientOf(addr) // malformed: count the proxy
				}
				if !isTrusted(a) {
					return clientOf(a)
				}
				addr = a
			}
		}
		return clientOf(addr)
	}
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func clientOf(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return ""
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
