package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/loadgen"
)

// bench runs `herald bench args... --json` and decodes its result.
func bench(t *testing.T, args ...string) (*loadgen.Result, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append(append([]string{"bench"}, args...), "--json"), strings.NewReader(""), &stdout, &stderr)
	if stdout.Len() == 0 {
		return nil, stderr.String(), err
	}
	var res loadgen.Result
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
		t.Fatalf("bench printed no JSON result (%v): %s", jerr, stdout.String())
	}
	t.Logf("%s", stdout.String())
	return &res, stderr.String(), err
}

func TestBenchAgainstHeraldServe(t *testing.T) {
	base, _ := startServe(t, "--addr=127.0.0.1:0", "--store=memory:", "--jwt-key=bench-test-secret", "--heartbeat=0", "--demo=false")
	res, stderr, err := bench(t, "--hub", base, "--jwt-key", "bench-test-secret",
		"--subscribers", "50", "--publishers", "2", "--rate", "2000",
		"--duration", "1s", "--warmup", "200ms", "--settle", "100ms",
		"--server-pid", fmt.Sprint(os.Getpid()))
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	if res.Connected != 50 || res.PublishErrors != 0 {
		t.Errorf("connected %d, publish errors %d: %s", res.Connected, res.PublishErrors, res.FirstError)
	}
	if res.Lost != 0 || res.OutOfOrder != 0 {
		t.Errorf("lost %d, out of order %d", res.Lost, res.OutOfOrder)
	}
	// One topic: every acknowledged publication reaches all 50 subscribers.
	if res.TotalPublished == 0 || res.Expected != res.TotalPublished*50 || res.Received != res.Expected {
		t.Errorf("published %d, expected %d, received %d", res.TotalPublished, res.Expected, res.Received)
	}
	if res.Deliveries == 0 || res.Latency.Count == 0 || res.Latency.P99 < res.Latency.P50 {
		t.Errorf("deliveries %d, latency %+v", res.Deliveries, res.Latency)
	}
	if res.Server == nil || res.Server.CPUSeconds <= 0 || res.Server.CPUPerMillion <= 0 {
		t.Errorf("server: %+v", res.Server)
	}
}

func TestBenchStormScenarioResumesEverySubscriber(t *testing.T) {
	base, _ := startServe(t, "--addr=127.0.0.1:0", "--store=memory:", "--jwt-key=bench-test-secret", "--heartbeat=0", "--demo=false")
	res, stderr, err := bench(t, "--hub", base, "--jwt-key", "bench-test-secret", "--scenario", "storm",
		"--subscribers", "40", "--topics", "4", "--rate", "400",
		"--duration", "1500ms", "--warmup", "0s", "--settle", "100ms", "--storm-after", "500ms")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	if res.Scenario != "storm" || res.Storm == nil {
		t.Fatalf("scenario %q, storm %+v", res.Scenario, res.Storm)
	}
	if res.Storm.Dropped != 40 || res.Storm.Resumed != 40 {
		t.Errorf("storm: %+v", res.Storm)
	}
	if res.Lost != 0 || res.OutOfOrder != 0 || res.Received != res.TotalPublished*10 {
		t.Errorf("lost %d, out of order %d, received %d of %d", res.Lost, res.OutOfOrder, res.Received, res.TotalPublished*10)
	}
}

// lossyHub is a minimal Mercure-style hub that skips every tenth event on
// every stream: herald bench must notice.
type lossyHub struct {
	mu   sync.Mutex
	subs map[chan string]bool
	n    int
}

func (h *lossyHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		h.n++
		id := fmt.Sprint(h.n)
		if h.n%10 != 0 {
			ev := "id: " + id + "\ndata: " + r.PostForm.Get("data") + "\n\n"
			for c := range h.subs {
				c <- ev
			}
		}
		h.mu.Unlock()
		io.WriteString(w, id)
	case http.MethodGet:
		c := make(chan string, 100000)
		h.mu.Lock()
		h.subs[c] = true
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			delete(h.subs, c)
			h.mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-c:
				io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}
}

func TestBenchReportsLostEvents(t *testing.T) {
	srv := httptest.NewServer(&lossyHub{subs: map[chan string]bool{}})
	defer srv.Close()
	res, _, err := bench(t, "--hub", srv.URL, "--subscribers", "5", "--publishers", "1", "--rate", "500",
		"--duration", "500ms", "--warmup", "0s", "--settle", "50ms", "--drain-timeout", "500ms")
	if err == nil || !strings.Contains(err.Error(), "lost") {
		t.Fatalf("err = %v, want an error saying events were lost", err)
	}
	if res == nil {
		t.Fatal("no result printed")
	}
	// Every tenth event is missing on all 5 streams.
	if want := res.TotalPublished / 10 * 5; res.Lost < want || res.Lost > want+5 {
		t.Errorf("lost %d, want about %d (published %d)", res.Lost, want, res.TotalPublished)
	}
	if res.Received+res.Lost != res.Expected {
		t.Errorf("received %d + lost %d != expected %d", res.Received, res.Lost, res.Expected)
	}
}

func TestBenchScenarioFlags(t *testing.T) {
	var c benchConfig
	fs := benchFlags(&c)
	if err := fs.Parse([]string{"--scenario", "storm", "--subscribers", "30", "--hub", "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.config(fs)
	if err != nil {
		t.Fatal(err)
	}
	preset := loadgen.Scenarios["storm"].Config
	// The preset, except what the command line set.
	if cfg.Subscribers != 30 || cfg.Topics != preset.Topics || cfg.Rate != preset.Rate || !cfg.Storm ||
		cfg.Duration != preset.Duration || cfg.Publishers != preset.Publishers || cfg.Scenario != "storm" {
		t.Errorf("config = %+v", cfg)
	}
	if cfg.WorkerCommand == nil {
		t.Error("no worker command")
	}
	if got := cfg.WorkerCommand(context.Background()).Args[1:]; strings.Join(got, " ") != "bench --worker" {
		t.Errorf("worker args = %q", got)
	}
	// Letters work too.
	c = benchConfig{}
	fs = benchFlags(&c)
	_ = fs.Parse([]string{"--scenario", "B"})
	if cfg, err := c.config(fs); err != nil || cfg.Scenario != "broadcast" || cfg.Subscribers != 1000 {
		t.Errorf("scenario B: %v, %+v", err, cfg)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "nope"},
		{"--subscribers", "-1"},
		{"--jwt-key", "@/nonexistent/key.pem"},
		{"extra-argument"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"bench"}, args...), strings.NewReader(""), &stdout, &stderr)
		var ue usageError
		if !errors.As(err, &ue) || exitCode(err) != 2 {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"bench", "-h"}, strings.NewReader(""), &stdout, io.Discard); err != nil {
		t.Errorf("-h: err = %v", err)
	}
	if !strings.Contains(stdout.String(), "broadcast") || !strings.Contains(stdout.String(), "--server-pid") {
		t.Errorf("help does not list the scenarios and flags:\n%s", stdout.String())
	}
}

func TestBenchConnectionRefused(t *testing.T) {
	// Nothing listens on this port (it was just closed).
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, _, err := bench(t, "--hub", url, "--subscribers", "3", "--duration", "100ms")
	if err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("err = %v, want a connection error", err)
	}
}

// TestBenchRefusesEmptyCredentials: an empty key or token (an unset shell
// variable, as in --jwt-key "$KEY") is refused before anything is sent.
func TestBenchRefusesEmptyCredentials(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing may be sent: a refused connection is another error
	for _, flag := range []string{"jwt-key", "token", "subscriber-token"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"bench", "--hub", url, "--" + flag, ""}, strings.NewReader(""), &stdout, &stderr)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--"+flag) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("--%s '': err = %v, want a usage error saying --%s is empty", flag, err, flag)
		}
	}
}

// TestBenchFailsWhenPublishesFail: a run whose publishes are refused (no
// token for a hub that needs one) fails, saying why, instead of reporting
// a success with nothing published.
func TestBenchFailsWhenPublishesFail(t *testing.T) {
	base, _ := startServe(t, "--addr=127.0.0.1:0", "--store=memory:", "--jwt-key=bench-test-secret", "--heartbeat=0", "--demo=false")
	res, stderr, err := bench(t, "--hub", base, "--subscribers", "5", "--publishers", "1", "--rate", "100",
		"--duration", "300ms", "--warmup", "0s", "--settle", "50ms", "--drain-timeout", "200ms")
	if err == nil || !strings.Contains(err.Error(), "publish") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want an error saying the publishes failed with 401\n%s", err, stderr)
	}
	if !strings.Contains(err.Error(), "--jwt-key") {
		t.Errorf("err = %v, want a hint about --jwt-key or --token", err)
	}
	if res == nil || res.PublishErrors == 0 || res.TotalPublished != 0 {
		t.Errorf("result %+v, want the failed publishes reported", res)
	}
}

// TestBenchFailsWhenNothingIsDelivered: a hub that acknowledges publishes
// but delivers nothing fails the run.
func TestBenchFailsWhenNothingIsDelivered(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			io.WriteString(w, "urn:uuid:acknowledged")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	_, _, err := bench(t, "--hub", srv.URL, "--subscribers", "3", "--publishers", "1", "--rate", "100",
		"--duration", "300ms", "--warmup", "0s", "--settle", "50ms", "--drain-timeout", "200ms")
	if err == nil || !strings.Contains(err.Error(), "nothing was delivered") {
		t.Errorf("err = %v, want an error saying nothing was delivered", err)
	}
}

// TestBenchREADMEExample: what the README says, as written: herald serve
// on its embedded store, then herald bench --jwt-key "$KEY" with the KEY
// its banner exports (a shorter, smaller run here).
func TestBenchREADMEExample(t *testing.T) {
	h := serveHub(t, "--data-dir="+t.TempDir(), "--heartbeat=0")
	key := bannerExports(t, h.stdout.String())["KEY"]
	res, stderr, err := bench(t, "--hub", h.base, "--scenario", "broadcast", "--jwt-key", key,
		"--subscribers", "20", "--duration", "500ms", "--warmup", "100ms", "--settle", "50ms")
	if err != nil {
		t.Fatalf("bench --jwt-key %s: %v\n%s", key, err, stderr)
	}
	if res.TotalPublished == 0 || res.Received != res.TotalPublished*20 {
		t.Errorf("published %d, received %d", res.TotalPublished, res.Received)
	}
}

// TestBenchMemstats: --memstats reads the Go heap and stacks from the
// expvar endpoint herald serve offers on its private --pprof-addr listener.
func TestBenchMemstats(t *testing.T) {
	l, _ := runServeListening(t, "--jwt-key=bench-test-secret", "--heartbeat=0", "--pprof-addr=127.0.0.1:0")
	vars := strings.TrimSuffix(l.Pprof, "/debug/pprof/") + "/debug/vars"
	res, stderr, err := bench(t, "--hub", l.URL, "--jwt-key", "bench-test-secret", "--memstats", vars,
		"--subscribers", "50", "--publishers", "1", "--rate", "100",
		"--duration", "300ms", "--warmup", "0s", "--settle", "100ms")
	if err != nil {
		t.Fatalf("bench --memstats %s: %v\n%s", vars, err, stderr)
	}
	if res.Server == nil || res.Server.HeapStackPerSubscriber == 0 {
		t.Errorf("server %+v, want the heap and stacks per subscriber", res.Server)
	}
	if resp, _ := serveGet(t, l.URL+"/debug/vars", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /debug/vars on the hub's listener: %d, want 404 (only the private listener serves it)", resp.StatusCode)
	}
}
