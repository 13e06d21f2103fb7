package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/loadgen"
)

// benchConfig is what `herald bench` is told by its flags, beyond the
// loadgen.Config they fill.
type benchConfig struct {
	cfg             loadgen.Config
	scenario        string
	jwtKey, jwtAlg  string
	authSubscribers bool
	sourceAddrs     string
	jsonOut         bool
	worker          bool
	draft           draftFlags // --draft 08: draft.go
}

func benchFlags(c *benchConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	l := &c.cfg
	fs.StringVar(&c.scenario, "scenario", "", "preset: "+strings.Join(loadgen.ScenarioNames(), ", ")+" (the standard scenarios, listed below, by name or letter); other flags override it")
	fs.StringVar(&l.Hub, "hub", "http://localhost:8080/.well-known/mercure", "the hub's URL (the path defaults to /.well-known/mercure)")
	fs.IntVar(&l.Subscribers, "subscribers", 100, "subscribers (streams) to open")
	fs.IntVar(&l.Topics, "topics", 1, "topics; subscriber i subscribes to topic i % topics")
	fs.IntVar(&l.Publishers, "publishers", 1, "concurrent publishers, each with a keep-alive connection (0: idle run)")
	fs.IntVar(&l.Batch, "batch", 0, "events per publish request: above 1, each publisher posts batches of that many events to Herald's batch endpoint (the hub's URL + /herald/batch, NDJSON; Herald only); 0 or 1: one form-encoded event per request, as every Mercure hub takes")
	fs.Float64Var(&l.Rate, "rate", 0, "events per second in total (0: as fast as the hub acknowledges)")
	fs.DurationVar(&l.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&l.Warmup, "warmup", time.Second, "publishing before the window, not measured")
	fs.DurationVar(&l.Settle, "settle", loadgen.DefaultSettle, "pause between the last subscriber connecting and the first event")
	fs.IntVar(&l.Size, "size", loadgen.DefaultSize, "bytes of data per event")
	fs.StringVar(&l.TopicPrefix, "topic-prefix", loadgen.DefaultTopicPrefix, "topic t is named <prefix><t>")
	fs.StringVar(&l.PublisherToken, "token", "", "publisher JWT (Authorization: Bearer)")
	fs.StringVar(&c.jwtKey, "jwt-key", "", "sign a publisher token (and a subscriber token, see --auth-subscribers) with this key: HMAC secret, PEM or @file")
	fs.StringVar(&c.jwtAlg, "jwt-alg", "", "algorithm for --jwt-key (default: HS256 for secrets, by key type for PEM)")
	fs.StringVar(&l.SubscriberToken, "subscriber-token", "", "subscriber JWT, sent by every subscriber")
	fs.BoolVar(&c.authSubscribers, "auth-subscribers", false, "subscribers send a token too (--subscriber-token, else one signed with --jwt-key, else --token)")
	fs.BoolVar(&l.Insecure, "insecure", false, "do not verify the hub's TLS certificate")
	fs.BoolVar(&l.Storm, "storm", false, "drop every stream at once during the window; each reconnects at once with Last-Event-ID")
	fs.DurationVar(&l.StormAfter, "storm-after", 0, "when the storm happens, into the window (default: a third of it)")
	fs.IntVar(&l.Workers, "workers", -1, fmt.Sprintf("worker processes holding the subscribers (0: this process; -1: one per %d subscribers when there are more)", loadgen.MaxPerWorker))
	fs.StringVar(&c.sourceAddrs, "source-addrs", "", "local IPs to connect from, comma-separated (default: the system's; workers on a loopback hub use 127.0.0.2, .3, …)")
	fs.IntVar(&l.ConnectConcurrency, "connect-concurrency", loadgen.DefaultConnectConcurrency, "connection attempts in flight while subscribers connect")
	fs.DurationVar(&l.DrainTimeout, "drain-timeout", loadgen.DefaultDrainTimeout, "how long to wait for the last events after publishing stops")
	fs.IntVar(&l.ServerPID, "server-pid", 0, "the hub's process id: report its CPU time and memory (same machine)")
	fs.StringVar(&l.MemStatsURL, "memstats", "", "the hub's expvar URL, e.g. http://localhost:6060/debug/vars for herald serve --pprof-addr localhost:6060: report the Go heap and stacks per subscriber")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&c.worker, "worker", false, "run as a worker of another herald bench (internal)")
	c.draft.register(fs, true)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: herald bench [flags]

Load-tests a Mercure-protocol hub (Herald, Mercure, or anything serving the
same endpoints): subscribers over real sockets, publishers over HTTP. Reports
deliveries/s, publishes/s, publish-to-receive latency, connection rate,
lost and out-of-order events (must be zero), and, with --server-pid, the
hub's CPU time and memory. It exits with status 1 when events were lost,
publishes failed, or nothing was delivered.

Scenarios:
`)
		for _, n := range loadgen.ScenarioNames() {
			s := loadgen.Scenarios[n]
			fmt.Fprintf(fs.Output(), "  %-2s %-14s %s\n", s.Letter, n, s.Description)
		}
		fmt.Fprintf(fs.Output(), "\nExample:\n  herald bench --hub http://localhost:8080 --jwt-key secret --scenario broadcast --server-pid $(pgrep -n herald)\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func runBench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c benchConfig
	fs := benchFlags(&c)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("bench: unexpected arguments %q", fs.Args())}
	}
	if c.worker {
		return loadgen.RunWorker(ctx, stdin, stdout)
	}
	cfg, err := c.config(fs)
	if err != nil {
		return err
	}
	if isTerminal(stderr) {
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(stderr, "\r\033[K%s", loadgen.ProgressLine(p))
		}
	}
	res, err := loadgen.Run(ctx, cfg)
	if cfg.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if err := res.WriteTable(stdout); err != nil {
		return err
	}
	return c.verdict(cfg, res)
}

// verdict fails a run whose figures cannot be trusted: events lost or out
// of order, publishes that failed, or nothing delivered.
func (c *benchConfig) verdict(cfg loadgen.Config, res *loadgen.Result) error {
	var problems []string
	if res.PublishErrors > 0 {
		p := fmt.Sprintf("%d of %d publishes failed", res.PublishErrors, res.PublishErrors+res.TotalPublished)
		if res.FirstError != "" {
			p += " (first error: " + res.FirstError + ")"
		}
		if strings.Contains(res.FirstError, " 401") && cfg.PublisherToken == "" {
			p += "; the hub wants a publisher token: pass --jwt-key with its key, or --token"
		}
		problems = append(problems, p)
	} else if cfg.Publishers > 0 && res.TotalPublished == 0 {
		problems = append(problems, "no publish was acknowledged")
	}
	if res.Lost > 0 || res.OutOfOrder > 0 {
		problems = append(problems, fmt.Sprintf("%d events lost and %d out of order or duplicated", res.Lost, res.OutOfOrder))
	}
	if res.Expected > 0 && res.Received == 0 {
		problems = append(problems, "nothing was delivered")
	}
	if len(problems) > 0 {
		return fmt.Errorf("bench: %s", strings.Join(problems, "; "))
	}
	return nil
}

// config builds the load generator's configuration: the scenario's preset,
// overridden by the flags given on the command line.
func (c *benchConfig) config(fs *flag.FlagSet) (loadgen.Config, error) {
	cfg := c.cfg
	if c.scenario != "" {
		s, err := loadgen.LookupScenario(c.scenario)
		if err != nil {
			return cfg, usageError{fmt.Errorf("bench: %v", err)}
		}
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		p := s.Config
		set := func(name string, apply func()) {
			if !given[name] {
				apply()
			}
		}
		cfg.Scenario = p.Scenario
		set("subscribers", func() { cfg.Subscribers = p.Subscribers })
		set("topics", func() { cfg.Topics = p.Topics })
		set("publishers", func() { cfg.Publishers = p.Publishers })
		set("batch", func() { cfg.Batch = p.Batch })
		set("rate", func() { cfg.Rate = p.Rate })
		set("duration", func() { cfg.Duration = p.Duration })
		set("warmup", func() { cfg.Warmup = p.Warmup })
		set("storm", func() { cfg.Storm = p.Storm })
		set("storm-after", func() { cfg.StormAfter = p.StormAfter })
		if p.Settle != 0 {
			set("settle", func() { cfg.Settle = p.Settle })
		}
	}
	// An empty credential is a mistake (an unset shell variable, as in
	// --jwt-key "$KEY"), not a request for none: refuse it before the run.
	var empty []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "jwt-key", "token", "subscriber-token":
			if f.Value.String() == "" {
				empty = append(empty, "--"+f.Name)
			}
		}
	})
	if len(empty) > 0 {
		return cfg, usageError{fmt.Errorf("bench: %s is empty (an unset shell variable?); give the hub's key or a token, or leave the flag out for a hub that needs none", strings.Join(empty, " and "))}
	}
	if c.sourceAddrs != "" {
		cfg.SourceAddrs = splitList(c.sourceAddrs)
	}
	draft08, err := c.draft.is08()
	if err != nil {
		return cfg, usageError{fmt.Errorf("bench: %v", err)}
	}
	cfg.Draft08 = draft08
	if c.jwtKey != "" {
		k, err := auth.LoadKey(c.jwtKey)
		if err != nil {
			return cfg, usageError{fmt.Errorf("bench: --jwt-key: %v", err)}
		}
		ttl := cfg.Duration + cfg.Warmup + time.Hour
		hubURL, _ := hubEndpoint(cfg.Hub)
		if cfg.PublisherToken == "" {
			if cfg.PublisherToken, err = c.draft.sign(c.jwtAlg, k, hubURL, []string{"*"}, nil, ttl); err != nil {
				return cfg, benchSignError("publisher", err)
			}
		}
		if c.authSubscribers && cfg.SubscriberToken == "" {
			if cfg.SubscriberToken, err = c.draft.sign(c.jwtAlg, k, hubURL, nil, []string{"*"}, ttl); err != nil {
				return cfg, benchSignError("subscriber", err)
			}
		}
	}
	if c.authSubscribers && cfg.SubscriberToken == "" {
		cfg.SubscriberToken = cfg.PublisherToken
	}
	if cfg.Subscribers < 0 || cfg.Publishers < 0 || cfg.Topics < 1 || cfg.Rate < 0 || cfg.Size < 0 || cfg.Batch < 0 {
		return cfg, usageError{errors.New("bench: --subscribers, --publishers, --batch and --rate must not be negative, --topics at least 1")}
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cfg.WorkerCommand = func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, exe, "bench", "--worker")
	}
	return cfg, nil
}

// benchSignError is the error of signing a token for role.
func benchSignError(role string, err error) error {
	if ue, ok := errors.AsType[usageError](err); ok {
		return usageError{fmt.Errorf("bench: %v", ue.err)}
	}
	return fmt.Errorf("bench: signing a %s token: %w", role, err)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
