package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"time"
)

// Defaults for [Config].
const (
	DefaultTopicPrefix        = "bench/"
	DefaultSize               = 100
	DefaultDuration           = 10 * time.Second
	DefaultSettle             = 500 * time.Millisecond
	DefaultDrainTimeout       = 10 * time.Second
	DefaultConnectConcurrency = 256
	DefaultMaxReconnects      = 100
	// DefaultPerAddress is the default of Config.PerAddress: the default
	// limit of Herald's hub on the streams of one client address
	// (hub.DefaultMaxClientSubscribers).
	DefaultPerAddress = 1000
	// MaxPerWorker is how many subscribers one worker process holds at most
	// (a process may have 20,000 open files here; each stream is one).
	MaxPerWorker = 9000
)

// Config describes one load run. Zero fields take the defaults above.
type Config struct {
	// Scenario names the preset the config came from, for the report.
	Scenario string
	// Hub is the URL of the hub's Mercure endpoint (http or https; a URL
	// without a path gets /.well-known/mercure).
	Hub string
	// Subscribers streams are opened, subscriber i on topic i % Topics.
	Subscribers int
	// Topics is how many topics events are spread over (at least 1).
	Topics int
	// Publishers send events concurrently, each over its own keep-alive
	// connection, one request at a time. Publisher p sends to the topics t
	// with t % Publishers == p (or, with more publishers than topics, to
	// topic p % Topics). Zero publishes nothing (an idle run).
	Publishers int
	// Batch, above 1, makes each publisher send that many events per
	// request, one to each of its next topics in turn, to the hub's batch
	// endpoint (Herald's extension of the protocol: NDJSON posted to the
	// hub's URL + "/herald/batch"), where each batch is stored whole or not
	// at all. 0 or 1: one event per request, a form, as every Mercure hub
	// takes it.
	Batch int
	// Rate is the total target of events per second; 0 is as fast as the
	// hub acknowledges.
	Rate float64
	// Duration is the measured window; Warmup runs before it, publishing but
	// not measured.
	Duration time.Duration
	Warmup   time.Duration
	// Settle is the pause between the last subscriber connecting and the
	// first event, so that hubs that register subscriptions asynchronously
	// see them all. Default DefaultSettle; negative: none.
	Settle time.Duration
	// Size is the length of each event's data in bytes (at least the ~30
	// bytes of its header).
	Size int
	// TopicPrefix: topic t is named TopicPrefix followed by t.
	TopicPrefix string
	// PublisherToken is sent as "Authorization: Bearer" on publications,
	// SubscriberToken on subscriptions (when not empty).
	PublisherToken  string
	SubscriberToken string
	// Draft08 subscribes as draft-08 (Mercure 1.0) clients do: with match=
	// rather than topic=. Publications are the same form in both
	// generations; the hub tells them apart by their token.
	Draft08 bool
	// Insecure skips TLS certificate verification for https hubs.
	Insecure bool

	// Storm drops every stream at once, StormAfter into the measured window
	// (default a third of it); each reconnects at once with Last-Event-ID.
	Storm      bool
	StormAfter time.Duration

	// Workers is how many worker processes hold the subscribers; 0 holds
	// them in this process; negative chooses: 0 when Subscribers <=
	// MaxPerWorker, else enough workers for MaxPerWorker each.
	Workers int
	// WorkerCommand returns the command that runs a worker (a process
	// calling RunWorker with its standard input and output). Required
	// when there are workers.
	WorkerCommand func(ctx context.Context) *exec.Cmd
	// SourceAddrs are local IP addresses streams connect from, in turn.
	// Empty: the system chooses, except on a loopback hub with workers or
	// more than PerAddress subscribers, where they are spread over
	// 127.0.0.2, 127.0.0.3, … (see PerAddress).
	SourceAddrs []string
	// PerAddress bounds the subscribers that connect from one source
	// address when SourceAddrs is empty and the hub is on loopback: they
	// are spread over 127.0.0.2, 127.0.0.3, … (each worker process taking
	// addresses of its own), so that no address holds more streams than
	// the hub allows one client. Default DefaultPerAddress.
	PerAddress int
	// ConnectConcurrency bounds the connection attempts in flight while
	// subscribers connect (not during a storm). Default
	// DefaultConnectConcurrency.
	ConnectConcurrency int
	// BufferSize is each stream's read buffer; default: 128 MiB spread over
	// the subscribers, between 4 KiB and 64 KiB.
	BufferSize int
	// MaxReconnects bounds, per subscriber, reconnections after streams the
	// hub or the network ended. Default DefaultMaxReconnects.
	MaxReconnects int
	// DrainTimeout bounds the wait, after publishing stops, for the last
	// events to arrive. Default DefaultDrainTimeout.
	DrainTimeout time.Duration

	// ServerPID, when not zero, is the hub's process: its CPU time and RSS
	// are read from /proc (same machine only).
	ServerPID int
	// MemStatsURL, when set, is an expvar-style endpoint ({"memstats":
	// {"HeapInuse":…,"StackInuse":…}}) of the hub, read before and after
	// the subscribers connect.
	MemStatsURL string

	// Progress, when set, is called about once a second during the run.
	Progress func(Progress)
}

// Progress is a snapshot of a running benchmark.
type Progress struct {
	Phase        string        // "connect", "settle", "warmup", "measure", "storm", "drain"
	Elapsed      time.Duration // since the run started
	Connected    int
	Subscribers  int
	Deliveries   uint64  // events received so far
	DeliveryRate float64 // per second, over the last interval
	Published    uint64  // events acknowledged so far
	PublishRate  float64
	Errors       int // connection and publish errors so far
}

func (c *Config) setDefaults() {
	if c.Topics <= 0 {
		c.Topics = 1
	}
	if c.Size <= 0 {
		c.Size = DefaultSize
	}
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.Settle < 0 {
		c.Settle = 0
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.ConnectConcurrency <= 0 {
		c.ConnectConcurrency = DefaultConnectConcurrency
	}
	if c.BufferSize <= 0 {
		c.BufferSize = min(max((128<<20)/max(c.Subscribers, 1), 4<<10), 64<<10)
	}
	if c.MaxReconnects <= 0 {
		c.MaxReconnects = DefaultMaxReconnects
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.PerAddress <= 0 {
		c.PerAddress = DefaultPerAddress
	}
	if c.Batch < 1 {
		c.Batch = 1
	}
	if c.StormAfter <= 0 {
		c.StormAfter = c.Duration / 3
	}
	if c.Workers < 0 {
		c.Workers = 0
		if c.Subscribers > MaxPerWorker {
			c.Workers = (c.Subscribers + MaxPerWorker - 1) / MaxPerWorker
		}
	}
}

func (c *Config) validate() error {
	if _, err := parseTarget(c.Hub, c.Insecure); err != nil {
		return err
	}
	switch {
	case c.Subscribers < 0 || c.Publishers < 0:
		return errors.New("loadgen: subscribers and publishers must not be negative")
	case c.Subscribers == 0 && c.Publishers == 0:
		return errors.New("loadgen: nothing to do: no subscribers and no publishers")
	case c.Rate < 0:
		return errors.New("loadgen: the rate must not be negative")
	case c.Batch < 0:
		return errors.New("loadgen: the batch size must not be negative")
	case c.Workers > 0 && c.WorkerCommand == nil:
		return errors.New("loadgen: workers need a WorkerCommand")
	case c.Workers > 0 && c.Subscribers == 0:
		c.Workers = 0
	}
	for _, a := range c.SourceAddrs {
		if net.ParseIP(a) == nil {
			return fmt.Errorf("loadgen: source address %q is not an IP address", a)
		}
	}
	return nil
}

// groupConfigs splits the subscribers among the worker processes (or one
// in-process group).
func (c *Config) groupConfigs() []groupConfig {
	n := max(c.Workers, 1)
	base := groupConfig{
		Hub:                c.Hub,
		Topics:             c.Topics,
		Publishers:         c.Publishers,
		TopicPrefix:        c.TopicPrefix,
		Token:              c.SubscriberToken,
		Draft08:            c.Draft08,
		SourceAddrs:        c.SourceAddrs,
		ConnectConcurrency: max(c.ConnectConcurrency/n, 1),
		BufferSize:         c.BufferSize,
		Insecure:           c.Insecure,
		MaxReconnects:      c.MaxReconnects,
	}
	loopback := false
	if t, err := parseTarget(c.Hub, c.Insecure); err == nil {
		host, _, _ := net.SplitHostPort(t.addr)
		ip := net.ParseIP(host)
		loopback = host == "localhost" || (ip != nil && ip.IsLoopback() && ip.To4() != nil)
	}
	var out []groupConfig
	first := 0
	next := 0 // the next loopback source address to hand out: 127.0.0.(2+next)
	for k := range n {
		g := base
		g.First = first
		g.Count = c.Subscribers / n
		if k < c.Subscribers%n {
			g.Count++
		}
		first += g.Count
		// On a loopback hub, worker processes connect from addresses of
		// their own, and no address holds more than PerAddress streams (the
		// hub's limit per client); this process alone, within that limit,
		// connects from the system's address.
		if len(c.SourceAddrs) == 0 && loopback && (c.Workers > 0 || g.Count > c.PerAddress) {
			g.SourceAddrs = nil
			for range max(1, (g.Count+c.PerAddress-1)/c.PerAddress) {
				g.SourceAddrs = append(g.SourceAddrs, fmt.Sprintf("127.0.0.%d", 2+next%250))
				next++
			}
		}
		out = append(out, g)
	}
	return out
}
