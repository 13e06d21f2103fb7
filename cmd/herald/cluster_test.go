package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/nats/natstest"
	"github.com/herald-sse/herald/store/redis/redistest"
)

// The cluster tests run three `herald serve` processes on one engine. Each
// node is this test binary run again with clusterNodeEnv set, which makes
// TestClusterNodeProcess call run(ctx, "serve", args...).
const (
	clusterNodeEnv = "HERALD_CLUSTER_TEST_NODE" // JSON array of serve's arguments
	clusterKey     = "cluster-test-secret"
	clusterTopic   = "https://example.com/cluster"
)

// TestClusterNodeProcess is not a test: it is `herald serve` in the child
// processes of the cluster tests, and skips everywhere else.
func TestClusterNodeProcess(t *testing.T) {
	raw := os.Getenv(clusterNodeEnv)
	if raw == "" {
		t.Skip("runs only as a node process of the cluster tests")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, "bad", clusterNodeEnv, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, append([]string{"serve"}, args...), os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestClusterRedis(t *testing.T) {
	engine := redistest.Start(t, redistest.Options{Persist: true})
	testCluster(t, engine.URL("cluster"), engine.Stop, engine.Start)
}

func TestClusterNATS(t *testing.T) {
	engine := natstest.Start(t)
	testCluster(t, engine.URL("cluster"), engine.Shutdown, engine.Start)
}

// testCluster runs three nodes on the engine at storeURL, subscribers on
// every node and a publisher sending to the nodes in turn; it kills a node
// and restarts the engine mid-stream. Every subscriber must end with every
// acknowledged event, once, in order, and nothing else.
func testCluster(t *testing.T, storeURL string, stopEngine, startEngine func()) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	nodes := make([]*node, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i] = startNode(t, fmt.Sprintf("node%d", i), storeURL) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	subs := make([]*subscriber, 6)
	var subWG sync.WaitGroup
	subCtx, stopSubs := context.WithCancel(ctx)
	defer func() { stopSubs(); subWG.Wait() }()
	for i := range subs {
		subs[i] = &subscriber{name: fmt.Sprintf("sub%d", i)}
		subWG.Go(func() { subs[i].run(subCtx, nodes, i%len(nodes)) })
	}

	p := newPublisher(t)
	const perPhase = 60
	p.publishRoundRobin(ctx, nodes, perPhase)

	// A node dies: its subscribers reconnect elsewhere with Last-Event-ID.
	nodes[0].kill()
	if _, status, err := p.publish(ctx, nodes[0], "to-the-dead-node"); err == nil {
		t.Fatalf("publishing to a killed node answered %d", status)
	}
	p.publishRoundRobin(ctx, nodes, perPhase)

	// The engine goes away: publishes fail fast with 503 (not a 200 for an
	// update that was not stored), /healthz says not ready, subscribers stay.
	stopEngine()
	for _, n := range nodes[1:] {
		start := time.Now()
		if _, status, err := p.publish(ctx, n, "while-the-engine-is-down"); err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("%s: publish with the engine down = %d, %v; want 503", n.name, status, err)
		} else if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: publish with the engine down took %v to fail", n.name, d)
		}
		waitHealth(ctx, t, n, http.StatusServiceUnavailable)
	}
	startEngine()
	for _, n := range nodes[1:] {
		waitHealth(ctx, t, n, http.StatusOK)
	}
	p.publishRoundRobin(ctx, nodes, perPhase)

	want := p.ackedInOrder(t)
	if len(want) < 2*perPhase {
		t.Fatalf("only %d of %d publishes were acknowledged", len(want), 3*perPhase)
	}
	for _, s := range subs {
		s.waitFor(ctx, t, want)
	}
	for i, s := range subs {
		if i%len(nodes) == 0 && s.connects() < 2 { // started on node0
			t.Errorf("%s connected %d times; it should have reconnected after node0 was killed", s.name, s.connects())
		}
	}
}

// node is one `herald serve` process.
type node struct {
	name   string
	base   string // http://host:port
	cmd    *exec.Cmd
	exited chan struct{}
	log    *nodeLog
}

// startNode starts a node on store and waits until it listens. extra flags
// override the defaults (the last occurrence of a flag wins).
func startNode(t testing.TB, name, store string, extra ...string) *node {
	args, _ := json.Marshal(append([]string{
		"--addr", "127.0.0.1:0", "--store", store, "--jwt-key", clusterKey,
		"--demo=false", "--log-format", "json", "--heartbeat", "1s", "--shutdown-timeout", "2s",
	}, extra...))
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterNodeProcess$")
	cmd.Env = append(os.Environ(), clusterNodeEnv+"="+string(args))
	n := &node{name: name, cmd: cmd, exited: make(chan struct{}), log: &nodeLog{listening: make(chan string, 1)}}
	cmd.Stdout, cmd.Stderr = io.Discard, n.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Errorf("start %s: %v", name, err)
		return nil
	}
	go func() { _ = cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("%s's log:\n%s", name, n.log.String())
		}
	})
	select {
	case n.base = <-n.log.listening:
		return n
	case <-n.exited:
		t.Errorf("%s exited at start:\n%s", name, n.log.String())
	case <-time.After(60 * time.Second):
		t.Errorf("%s did not listen within 60s:\n%s", name, n.log.String())
	}
	return nil
}

// kill kills the node (SIGKILL, by pid) and waits for it to exit.
func (n *node) kill() {
	select {
	case <-n.exited:
	default:
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

func (n *node) alive() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// nodeLog keeps a node's log (JSON lines) and reports the URL it listens on.
type nodeLog struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	partial   []byte
	listening chan string
}

func (l *nodeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var rec struct{ Msg, URL string }
		if json.Unmarshal(l.partial[:i], &rec) == nil && rec.Msg == "herald is listening" {
			select {
			case l.listening <- rec.URL:
			default:
			}
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *nodeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitHealth waits until n's /healthz answers status.
func waitHealth(ctx context.Context, t *testing.T, n *node, status int) {
	t.Helper()
	var last string
	for ctx.Err() == nil {
		resp, err := http.Get(n.base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == status {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: /healthz never answered %d; last: %s", n.name, status, last)
}

// publisher publishes numbered events and remembers which were acknowledged.
type publisher struct {
	token  string
	client *http.Client
	next   int // number of the next event
	turn   int // index of the next node to publish to
	acked  []herald.Update
}

func newPublisher(t testing.TB) *publisher {
	tok, err := auth.Sign("HS256", []byte(clusterKey), auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // keep-alive for concurrent publishers
	return &publisher{token: tok, client: &http.Client{Timeout: 10 * time.Second, Transport: tr}}
}

// publish sends one event to n and returns the id it was given.
func (p *publisher) publish(ctx context.Context, n *node, data string) (string, int, error) {
	form := url.Values{"topic": {clusterTopic}, "data": {data}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.base+mercure.Path, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body)), resp.StatusCode, err
}

// publishRoundRobin publishes count events, each to the next live node.
func (p *publisher) publishRoundRobin(ctx context.Context, nodes []*node, count int) {
	for range count {
		var n *node
		for n == nil || !n.alive() {
			n = nodes[p.turn%len(nodes)]
			p.turn++
		}
		data := fmt.Sprintf("event-%d", p.next)
		p.next++
		id, status, err := p.publish(ctx, n, data)
		if err == nil && status == http.StatusOK {
			p.acked = append(p.acked, herald.Update{ID: id, Data: data})
		}
	}
}

// ackedInOrder returns the acknowledged events in the store's order (their
// generated ids carry their Seq).
func (p *publisher) ackedInOrder(t *testing.T) []herald.Update {
	out := slices.Clone(p.acked)
	for i := range out {
		_, seq, ok := herald.ParseID(out[i].ID)
		if !ok {
			t.Fatalf("publish of %q answered id %q, not a generated id", out[i].Data, out[i].ID)
		}
		out[i].Seq = seq
	}
	slices.SortFunc(out, func(a, b herald.Update) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// subscriber reads the topic from one node, and when the stream ends,
// resumes from the next node with Last-Event-ID.
type subscriber struct {
	name string

	mu     sync.Mutex
	got    []sse.Event
	tries  int
	issues []string // gaps or refusals seen
}

func (s *subscriber) run(ctx context.Context, nodes []*node, first int) {
	last := herald.EarliestID
	client := &http.Client{}
	for i := first; ctx.Err() == nil; i++ {
		n := nodes[i%len(nodes)]
		if !n.alive() {
			continue
		}
		s.mu.Lock()
		s.tries++
		s.mu.Unlock()
		last = s.read(ctx, client, n, last)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// read streams from n after last and returns the last event id it saw.
func (s *subscriber) read(ctx context.Context, client *http.Client, n *node, last string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.base+mercure.Path+"?topic="+url.QueryEscape(clusterTopic), nil)
	if err != nil {
		return last
	}
	req.Header.Set("Last-Event-ID", last)
	resp, err := client.Do(req)
	if err != nil {
		return last
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return last
	}
	if got := resp.Header.Get("Last-Event-ID"); got != last {
		s.mu.Lock()
		s.issues = append(s.issues, fmt.Sprintf("%s answered Last-Event-ID %q to %q (a gap)", n.name, got, last))
		s.mu.Unlock()
	}
	dec := sse.NewDecoder(resp.Body)
	for {
		ev, err := dec.Decode()
		if err != nil {
			return last
		}
		s.mu.Lock()
		s.got = append(s.got, ev)
		s.mu.Unlock()
		last = ev.ID
	}
}

func (s *subscriber) connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

// waitFor waits until s has as many events as want, then checks that they
// are want exactly: every acknowledged event, once, in order.
func (s *subscriber) waitFor(ctx context.Context, t *testing.T, want []herald.Update) {
	t.Helper()
	for {
		s.mu.Lock()
		n := len(s.got)
		s.mu.Unlock()
		if n >= len(want) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, issue := range s.issues {
		t.Errorf("%s: %s", s.name, issue)
	}
	var diffs []string
	for i := range max(len(s.got), len(want)) {
		switch {
		case i >= len(s.got):
			diffs = append(diffs, fmt.Sprintf("#%d: missing %s %q", i, want[i].ID, want[i].Data))
		case i >= len(want):
			diffs = append(diffs, fmt.Sprintf("#%d: extra %s %q", i, s.got[i].ID, s.got[i].Data))
		case s.got[i].ID != want[i].ID || s.got[i].Data != want[i].Data:
			diffs = append(diffs, fmt.Sprintf("#%d: got %s %q, want %s %q", i, s.got[i].ID, s.got[i].Data, want[i].ID, want[i].Data))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s received %d events, want the %d acknowledged ones in order; first differences:\n%s",
			s.name, len(s.got), len(want), strings.Join(diffs[:min(len(diffs), 10)], "\n"))
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("%s: the test ran out of time: %v", s.name, err)
	}
}

// BenchmarkCluster measures the whole path on this machine: 1 or 3 `herald
// serve` processes on one engine (and one on the embedded bolt store, for
// comparison), 60 SSE subscribers spread over the nodes,
// 1 publisher (latency without load) or 8 (throughput) posting b.N events
// to the nodes in turn. It reports deliveries/s and publishes/s, and the
// publish→deliver latency (from before the POST to the event's arrival at a
// subscriber), overall and for events that crossed nodes. With 2 cores, 3 nodes measure the overhead of
// the cluster, not a scale-out.
//
//	go test -run '^$' -bench Cluster -benchtime 3000x ./cmd/herald/
func BenchmarkCluster(b *testing.B) {
	for _, pubs := range []int{1, 8} {
		b.Run(fmt.Sprintf("publishers=%d/engine=bolt/nodes=1", pubs), func(b *testing.B) { // the single-node baseline
			benchCluster(b, "bolt:"+b.TempDir(), 1, 60, pubs)
		})
		for _, engine := range []string{"redis", "nats"} {
			for _, n := range []int{1, 3} {
				b.Run(fmt.Sprintf("publishers=%d/engine=%s/nodes=%d", pubs, engine, n), func(b *testing.B) {
					var store string
					if engine == "redis" {
						store = redistest.Start(b, redistest.Options{}).URL("bench")
					} else {
						store = natstest.Start(b).URL("bench")
					}
					benchCluster(b, store, n, 60, pubs)
				})
			}
		}
	}
}

func benchCluster(b *testing.B, store string, nodeCount, subCount, pubCount int) {
	nodes := make([]*node, nodeCount)
	for i := range nodes {
		if nodes[i] = startNode(b, fmt.Sprintf("node%d", i), store); nodes[i] == nil {
			b.FailNow()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type sample struct {
		d     time.Duration
		cross bool
	}
	var (
		mu        sync.Mutex
		samples   []sample
		received  atomic.Int64
		connected sync.WaitGroup
		readers   sync.WaitGroup
	)
	for i := range subCount {
		home := i % nodeCount
		connected.Add(1)
		readers.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, nodes[home].base+mercure.Path+"?topic="+url.QueryEscape(clusterTopic), nil)
			resp, err := http.DefaultClient.Do(req)
			connected.Done()
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			dec := sse.NewDecoder(resp.Body)
			var local []sample
			defer func() {
				mu.Lock()
				samples = append(samples, local...)
				mu.Unlock()
			}()
			for {
				ev, err := dec.Decode()
				if err != nil {
					return
				}
				var from, k int
				var sent int64
				if _, err := fmt.Sscanf(ev.Data, "%d %d %d", &from, &k, &sent); err == nil {
					local = append(local, sample{time.Since(time.Unix(0, sent)), from != home})
				}
				received.Add(1)
			}
		})
	}
	connected.Wait()
	time.Sleep(200 * time.Millisecond) // the last subscribers' registration
	p := newPublisher(b)
	b.ResetTimer()
	var next atomic.Int64
	var pubs sync.WaitGroup
	for range pubCount {
		pubs.Go(func() {
			for k := next.Add(1); k <= int64(b.N); k = next.Add(1) {
				from := int(k) % nodeCount
				data := fmt.Sprintf("%d %d %d", from, k, time.Now().UnixNano())
				if _, status, err := p.publish(ctx, nodes[from], data); err != nil || status != http.StatusOK {
					b.Errorf("publish: %d %v", status, err)
					return
				}
			}
		})
	}
	pubs.Wait()
	published := b.Elapsed()
	want := int64(subCount * b.N)
	for received.Load() < want && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	elapsed := b.Elapsed()
	b.StopTimer()
	cancel()
	readers.Wait()
	if got := received.Load(); got != want {
		b.Fatalf("subscribers received %d events, want %d", got, want)
	}
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/published.Seconds(), "publishes/s")
	var all, cross []time.Duration
	for _, s := range samples {
		all = append(all, s.d)
		if s.cross {
			cross = append(cross, s.d)
		}
	}
	for _, l := range []struct {
		name string
		d    []time.Duration
	}{{"", all}, {"cross-", cross}} {
		if len(l.d) == 0 {
			continue
		}
		slices.Sort(l.d)
		b.ReportMetric(float64(l.d[len(l.d)/2].Microseconds())/1000, l.name+"p50-ms")
		b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds())/1000, l.name+"p99-ms")
	}
}
