package loadgen_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/loadgen"
)

// TestBatchesDeliverEveryEvent: with Config.Batch, publishers post batches
// to the hub's batch endpoint, each event of a batch to the next of the
// publisher's topics; every event reaches its subscribers once, in order,
// and the table says the events were published in batches.
func TestBatchesDeliverEveryEvent(t *testing.T) {
	url, token := newHub(t, hub.Options{})
	for _, c := range []struct{ topics, publishers int }{{30, 3}, {3, 7}} {
		res := run(t, loadgen.Config{
			Hub: url, Subscribers: 30, Topics: c.topics, Publishers: c.publishers, Batch: 10, Rate: 3000,
			Duration: 500 * time.Millisecond, Settle: 100 * time.Millisecond, PublisherToken: token,
		})
		checkAccounting(t, res, res.TotalPublished*uint64(30/c.topics))
		if res.Batch != 10 || res.TotalPublished%10 != 0 {
			t.Errorf("batch %d, %d published: want batches of 10", res.Batch, res.TotalPublished)
		}
		var b strings.Builder
		res.WriteTable(&b)
		if !strings.Contains(b.String(), "batches of 10") {
			t.Errorf("the table does not say the events were published in batches:\n%s", b.String())
		}
	}
}

// TestRefusedBatchesAreNotExpected: a refused batch publishes none of its
// events, so subscribers must not wait for any of them.
func TestRefusedBatchesAreNotExpected(t *testing.T) {
	url, _ := newHub(t, hub.Options{})
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 4, Topics: 4, Publishers: 1, Batch: 5, Rate: 500,
		Duration: 200 * time.Millisecond, Settle: 50 * time.Millisecond, PublisherToken: "not-a-jwt",
	})
	if res.PublishErrors == 0 || res.TotalPublished != 0 || !strings.Contains(res.FirstError, "401") {
		t.Errorf("publish errors %d, published %d, first error %q", res.PublishErrors, res.TotalPublished, res.FirstError)
	}
	if res.Lost != 0 || res.Expected != 0 {
		t.Errorf("refused batches counted as lost: lost %d, expected %d", res.Lost, res.Expected)
	}
}

// TestSourceAddressesWithinClientLimit: against a loopback hub, the
// subscribers connect from as many loopback source addresses as keep each
// address within Config.PerAddress streams (the hub's limit per client),
// in this process and in worker processes alike.
func TestSourceAddressesWithinClientLimit(t *testing.T) {
	url, token := newHub(t, hub.Options{MaxClientSubscribers: 10})
	res := run(t, loadgen.Config{
		Hub: url, Subscribers: 35, Topics: 5, Publishers: 1, Rate: 200, PerAddress: 10,
		Duration: 300 * time.Millisecond, Settle: 50 * time.Millisecond, PublisherToken: token,
	})
	checkAccounting(t, res, res.TotalPublished*7)

	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	res = run(t, loadgen.Config{
		Hub: url, Subscribers: 44, Topics: 4, Publishers: 1, Rate: 200, PerAddress: 10, Workers: 2,
		Duration: 300 * time.Millisecond, Settle: 50 * time.Millisecond, PublisherToken: token,
		WorkerCommand: func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "LOADGEN_TEST_WORKER=1")
			return cmd
		},
	})
	checkAccounting(t, res, res.TotalPublished*11)
}
