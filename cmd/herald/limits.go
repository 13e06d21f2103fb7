package main

import (
	"flag"
	"fmt"
	"net/netip"
	"time"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
)

// limitsConfig holds the flags that bound what clients can make the hub
// hold: connections, subscribers, templates, queued bytes, replays, request
// bodies. Each has a default that keeps a hub on one machine responsive, and
// is documented in the README's operating section with what happens when it
// is hit.
type limitsConfig struct {
	maxConnections       int
	maxSubscribers       int
	maxClientSubscribers int
	maxClientConnections int
	trustedProxies       string
	maxTemplates         int
	maxClientTemplates   int
	maxSelectorBytes     int
	queueBytes           int
	queuedBytes          int64
	unsentBytes          int
	maxReplays           int
	replayWait           time.Duration
	maxData              int
	bodyTimeout          time.Duration
	headerTimeout        time.Duration
	idleTimeout          time.Duration
	anonSubEvents        int
}

// connectionReserve is how many of the process's file descriptors are kept
// for what is not a client connection: the store's files, a cluster engine's
// connections, the profiler, logs.
const connectionReserve = 64

// defaultUnsentBytes is --unsent-bytes' default: what a connection may leave
// unsent in the kernel. Bytes in flight to a reading client do not count, so
// it does not slow one down.
const defaultUnsentBytes = 128 << 10

func (l *limitsConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&l.maxConnections, "max-connections", 0, fmt.Sprintf("most client connections open at once; more are answered 503 and closed at once (0: the open-file limit less %d; -1: none)", connectionReserve))
	fs.IntVar(&l.maxSubscribers, "max-subscribers", 0, "most subscribers at once; more are refused with 503 and Retry-After, leaving room for publishers, /healthz and /metrics (0: the open-file limit less a tenth of it; -1: none)")
	fs.IntVar(&l.maxClientSubscribers, "max-client-subscribers", hub.DefaultMaxClientSubscribers, "most subscribers of one client address (an IPv6 /64 counts as one); more are refused with 429 (-1: none)")
	fs.IntVar(&l.maxClientConnections, "max-client-connections", 2*hub.DefaultMaxClientSubscribers, "most connections open from one client address (an IPv6 /64 counts as one), proxies in --trusted-proxies excepted; more are answered 429 and closed at once (-1: none)")
	fs.StringVar(&l.trustedProxies, "trusted-proxies", "", "addresses (CIDR, comma-separated) of proxies in front of the hub: for their requests, the client address is taken from X-Forwarded-For")
	fs.IntVar(&l.maxTemplates, "max-templates", hub.DefaultMaxTemplates, "most distinct URI-template selectors and URL patterns (draft 08) subscribed to at once; a subscription adding one more is refused with 503 (-1: none)")
	fs.IntVar(&l.maxClientTemplates, "max-client-templates", hub.DefaultMaxClientTemplates, "most distinct URI-template selectors and URL patterns held by the subscribers of one client address (an IPv6 /64 counts as one), so that one address cannot take --max-templates from everyone; a subscription adding one more is refused with 429 (-1: none)")
	fs.IntVar(&l.maxSelectorBytes, "max-selector-bytes", mercure.DefaultMaxSelectorBytes, "most bytes of topic selectors in one subscription, together; more is a 400")
	fs.IntVar(&l.queueBytes, "queue-bytes", hub.DefaultQueueBytes, "bytes of events that may wait for one subscriber before it is disconnected as too slow (-1: none)")
	fs.IntVar(&l.unsentBytes, "unsent-bytes", defaultUnsentBytes, "bytes the kernel may hold unsent for one client connection (TCP_NOTSENT_LOWAT, Linux); past it, what waits for a subscriber counts against --queue-bytes instead of filling a send buffer of up to 4 MiB (0: the kernel's default)")
	fs.Int64Var(&l.queuedBytes, "queued-bytes", hub.DefaultQueuedBytes, "bytes of events that may wait for all subscribers together; past it, subscribers with a backlog are disconnected as too slow (-1: none)")
	fs.IntVar(&l.maxReplays, "max-replays", hub.DefaultConcurrentReplays, "subscribers replaying history at once; another waits up to --replay-wait, then is refused with 503 (-1: none)")
	fs.DurationVar(&l.replayWait, "replay-wait", hub.DefaultReplayWait, "how long a resuming subscriber waits for a replay slot")
	fs.IntVar(&l.maxData, "max-data", mercure.DefaultMaxDataBytes, "largest data of one update, in bytes, as subscribers receive it")
	fs.DurationVar(&l.bodyTimeout, "body-timeout", mercure.DefaultBodyTimeout, "a publish body must arrive within this long, else 408 and the connection is closed")
	fs.DurationVar(&l.headerTimeout, "header-timeout", 10*time.Second, "a request's headers must arrive within this long, else the connection is closed")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", 2*time.Minute, "close keep-alive connections idle for this long")
	fs.IntVar(&l.anonSubEvents, "anonymous-subscription-events", mercure.DefaultAnonymousSubscriptionEvents, "with --subscriptions, most subscription events per second that subscribers without a token can cause; the rest are not announced (-1: no limit)")
}

// hubOptions sets the limits of o.
func (l *limitsConfig) hubOptions(o *hub.Options) {
	o.MaxSubscribers = l.maxSubscribers
	o.MaxClientSubscribers = l.maxClientSubscribers
	o.MaxClientTemplates = l.maxClientTemplates
	o.MaxTemplates = l.maxTemplates
	o.QueueBytes = l.queueBytes
	o.QueuedBytes = l.queuedBytes
	o.ConcurrentReplays = l.maxReplays
	o.ReplayWait = l.replayWait
	if l.replayWait == 0 {
		o.ReplayWait = -1 // 0 on the command line: do not wait
	}
}

// mercureConfig sets the limits of c. It fails, as a usage error, on a
// malformed --trusted-proxies.
func (l *limitsConfig) mercureConfig(c *mercure.Config) error {
	c.MaxDataBytes = l.maxData
	c.MaxSelectorBytes = l.maxSelectorBytes
	c.BodyTimeout = l.bodyTimeout
	c.AnonymousSubscriptionEvents = l.anonSubEvents
	prefixes, err := l.proxies()
	if err != nil {
		return err
	}
	if prefixes != nil {
		c.ClientAddress = mercure.ForwardedClientAddress(prefixes)
	}
	return nil
}

// proxies parses --trusted-proxies: CIDR prefixes, or addresses.
func (l *limitsConfig) proxies() ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, s := range splitList(l.trustedProxies) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, usageError{fmt.Errorf("--trusted-proxies: %q is neither an address nor a CIDR prefix", s)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}

// trusted reports whether an address is one of --trusted-proxies (already
// checked by mercureConfig).
func (l *limitsConfig) trusted() func(netip.Addr) bool {
	prefixes, _ := l.proxies()
	return func(a netip.Addr) bool {
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}

// connectionLimit is the --max-connections in force: as given, or the
// process's open-file limit less connectionReserve; 0 means none.
func (l *limitsConfig) connectionLimit() int {
	switch {
	case l.maxConnections > 0:
		return l.maxConnections
	case l.maxConnections < 0:
		return 0
	}
	n := hub.OpenFileLimit()
	if n <= 2*connectionReserve {
		return 0
	}
	return n - connectionReserve
}
