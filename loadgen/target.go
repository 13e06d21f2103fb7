package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// target is the hub's endpoint, parsed once.
type target struct {
	addr string // host:port to dial
	host string // Host header
	path string // request target: path and query
	tls  *tls.Config
}

// parseTarget parses a hub URL. A URL without a path gets the Mercure
// well-known path.
func parseTarget(raw string, insecure bool) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("loadgen: hub URL: %w", err)
	}
	var t target
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
		t.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}, InsecureSkipVerify: insecure}
	default:
		return target{}, fmt.Errorf("loadgen: hub URL %q: use http:// or https://", raw)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("loadgen: hub URL %q has no host", raw)
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	t.host = u.Host
	t.path = u.EscapedPath()
	if t.path == "" || t.path == "/" {
		t.path = "/.well-known/mercure"
	}
	if u.RawQuery != "" {
		t.path += "?" + u.RawQuery
	}
	return t, nil
}

// batchPath is the request target of the hub's batch endpoint: the
// Mercure endpoint's path followed by /herald/batch (Herald's extension).
func (t target) batchPath() string {
	path, query, found := strings.Cut(t.path, "?")
	path = strings.TrimSuffix(path, "/") + "/herald/batch"
	if found {
		path += "?" + query
	}
	return path
}

func (t target) dial(ctx context.Context, d *net.Dialer) (net.Conn, error) {
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if t.tls == nil {
		return conn, nil
	}
	tc := tls.Client(conn, t.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		abort(conn)
		return nil, err
	}
	return tc, nil
}

// TopicName returns the name of topic t: prefix followed by t in decimal.
func TopicName(prefix string, t int) string { return prefix + strconv.Itoa(t) }

func escapedTopic(prefix string, t int) string { return url.QueryEscape(TopicName(prefix, t)) }
