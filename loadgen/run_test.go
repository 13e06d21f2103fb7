package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/loadgen"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/memory"
)

// TestMain lets the test binary act as a load generator worker, as `herald
// bench` does with its own binary.
func TestMain(m *testing.M) {
	if os.Getenv("LOADGEN_TEST_WORKER") == "1" {
		if err := loadgen.RunWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var testKey = []byte("loadgen-test-key-0123456789abcdef")

// newHub starts a real Herald hub (memory store, JWT-checked publishers) on
// a loopback port and returns its endpoint URL and a publisher token.
func newHub(t *testing.T, opts hub.Options) (url, token string) {
	t.Helper()
	store := memory.New(memory.Options{Retention: herald.Retention{MaxCount: 1_000_000}})
	opts.Heartbeat = -1
	h := hub.New(store, opts)
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	mh, err := mercure.New(mercure.Config{Hub: h, Publishers: v})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mh)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		srv.Close()
		_ = store.Close()
	})
	token, err = auth.Sign("HS256", testKey, auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL + mercure.Path, token
}

func run(t *testing.T, cfg loadgen.Config) *loadgen.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = res.WriteTable(&b)
	t.Logf("\n%s", b.String())
	return res
}

// checkAccounting asserts that every subscriber received every event of its
// topic once, in order.
func checkAccounting(t *testing.T, res *loadgen.Result, wantExpected uint64) {
	t.Helper()
	if res.Connected != res.Subscribers || res.ConnectErrors != 0 {
		t.Errorf("connected %d of %d, %d errors: %s", res.Connected, res.Subscribers, res.ConnectErrors, res.FirstError)
	}
	if res.PublishErrors != 0 {
		t.Errorf("%d publish errors: %s", res.PublishErrors, res.FirstError)
	}
	if res.Lost != 0 || res.OutOfOrder != 0 || res.Foreign != 0 {
		t.Errorf("lost %d, out of order %d, foreign %d", res.Lost, res.OutOfOrder, res.Foreign)
	}
	if res.Expected != wantExpected || res.Received != wantExpected {
		t.Errorf("expected %d, received %d; want both %d", res.Expected, res.Received, wantExpected)
	}
	if res.TotalPublished == 0 {
		t.Error("nothing was published")
	}
	if res.Deliveries == 0 || res.DeliveryRate <= 0 || res.Latency.Count == 0 {
		t.Errorf("nothing measured: %d deliveries, %v/s, %d latency samples", res.Deliveries, res.DeliveryRate, res.Latency.Count)
	}
	if res.Latency.P50 > res.Latency.P99 || res.Latency.P99 > res.Latency.Max {
		t.Errorf("latency percentiles out of order: %+v", res.Latency)
	}
}

func TestBroadcastDeliversEveryEventToEverySubscriber(t *testing.T) {
	url, token := newHub(t, hub.Options{})
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 50, Topics: 1, Publishers: 2, Rate: 2000,
		Duration: time.Second, Warmup: 200 * time.Millisecond, Settle: 100 * time.Millisecond,
		PublisherToken: token, ServerPID: os.Getpid(),
	})
	// One topic: every acknowledged publication reaches all 50.
	checkAccounting(t, res, res.TotalPublished*50)
	if res.Server == nil || res.Server.CPUSeconds <= 0 || res.Server.RSSEnd <= 0 {
		t.Errorf("server sampling: %+v", res.Server)
	}
}

func TestManyTopicsAndMorePublishersThanTopics(t *testing.T) {
	url, token := newHub(t, hub.Options{})
	for _, c := range []struct{ topics, publishers int }{{10, 3}, {3, 7}} {
		res := run(t, loadgen.Config{
			Hub: url, Subscribers: 30, Topics: c.topics, Publishers: c.publishers, Rate: 1500,
			Duration: 500 * time.Millisecond, Settle: 100 * time.Millisecond, PublisherToken: token, Size: 300,
		})
		// 30 subscribers over the topics evenly (3 or 10 per topic), and the
		// publishers' events spread over the topics: each event reaches
		// 30/topics subscribers.
		checkAccounting(t, res, res.TotalPublished*uint64(30/c.topics))
	}
}

func TestStormResumesWithoutLoss(t *testing.T) {
	url, token := newHub(t, hub.Options{})
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 60, Topics: 3, Publishers: 3, Rate: 600,
		Duration: 1500 * time.Millisecond, Settle: 100 * time.Millisecond, PublisherToken: token,
		Storm: true, StormAfter: 500 * time.Millisecond,
	})
	checkAccounting(t, res, res.TotalPublished*20)
	if res.Storm == nil || res.Storm.Dropped != 60 || res.Storm.Resumed != 60 {
		t.Fatalf("storm: %+v", res.Storm)
	}
	if res.Reconnects < 60 {
		t.Errorf("reconnects = %d, want >= 60", res.Reconnects)
	}
}

// TestSlowSubscribersAreDisconnectedAndResume runs against a hub whose
// subscriber queues are tiny, so that subscribers are disconnected as slow;
// they reconnect with Last-Event-ID and history fills the gap.
func TestSlowSubscribersAreDisconnectedAndResume(t *testing.T) {
	url, token := newHub(t, hub.Options{QueueLimit: 2})
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 20, Topics: 1, Publishers: 4,
		Duration: 700 * time.Millisecond, Settle: 100 * time.Millisecond, PublisherToken: token,
	})
	checkAccounting(t, res, res.TotalPublished*20)
	t.Logf("disconnects %d, reconnects %d", res.Disconnects, res.Reconnects)
}

func TestIdleRunReportsServerMemory(t *testing.T) {
	url, _ := newHub(t, hub.Options{})
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 100, Duration: 300 * time.Millisecond, Settle: 100 * time.Millisecond,
		ServerPID: os.Getpid(),
	})
	if res.Connected != 100 || res.ConnectRate <= 0 {
		t.Errorf("connected %d at %v/s", res.Connected, res.ConnectRate)
	}
	if res.Server == nil || res.Server.RSSConnected <= 0 {
		t.Errorf("server: %+v", res.Server)
	}
	if res.Published != 0 || res.Deliveries != 0 {
		t.Errorf("an idle run published %d and delivered %d", res.Published, res.Deliveries)
	}
}

func TestRefusedSubscribersAndPublishersAreCounted(t *testing.T) {
	url, _ := newHub(t, hub.Options{})
	// A publisher without a valid token is refused; so is a subscriber
	// with a token the hub cannot verify (the hub has no subscriber key).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := loadgen.Run(ctx, loadgen.Config{
		Hub: url, Subscribers: 5, Duration: 100 * time.Millisecond, SubscriberToken: "not-a-jwt",
	})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("err = %v, want a 401 from every subscriber", err)
	}
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 2, Publishers: 1, Rate: 100, Duration: 200 * time.Millisecond,
		Settle: 50 * time.Millisecond, PublisherToken: "not-a-jwt",
	})
	if res.PublishErrors == 0 || res.TotalPublished != 0 || !strings.Contains(res.FirstError, "401") {
		t.Errorf("publish errors %d, published %d, first error %q", res.PublishErrors, res.TotalPublished, res.FirstError)
	}
	if res.Lost != 0 || res.Expected != 0 {
		t.Errorf("refused publications must not count as lost: lost %d, expected %d", res.Lost, res.Expected)
	}
}

func TestWorkerProcesses(t *testing.T) {
	url, token := newHub(t, hub.Options{})
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 40, Topics: 2, Publishers: 2, Rate: 1000, Workers: 2,
		Duration: time.Second, Settle: 200 * time.Millisecond, PublisherToken: token,
		Storm: true, StormAfter: 300 * time.Millisecond,
		WorkerCommand: func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "LOADGEN_TEST_WORKER=1")
			return cmd
		},
	})
	checkAccounting(t, res, res.TotalPublished*20)
	if res.Storm == nil || res.Storm.Resumed != 40 {
		t.Errorf("storm: %+v", res.Storm)
	}
	if res.LoadgenCPU <= 0 {
		t.Errorf("load generator CPU = %v", res.LoadgenCPU)
	}
}

func TestHTTPErrorsBeforeStreaming(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := loadgen.Run(ctx, loadgen.Config{Hub: srv.URL, Subscribers: 3, Duration: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v, want a 404", err)
	}
}
