package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/herald-sse/herald"
)

// This file holds helpers for a backend's own tests beyond the suite (faults,
// several nodes on one log), next to [Watcher].

// AppendData appends an update with the topic "t" and data to st and returns
// it as Append acknowledged it (with its Seq, Time and ID). When Append fails
// it stops the test with t.Fatalf, so it must be called from the goroutine
// running the test.
func AppendData(t *testing.T, st herald.Store, data string) herald.Update {
	t.Helper()
	return mustAppend(t, st, herald.Update{Topics: []string{"t"}, Data: data})
}

// ReplayIDs calls st.Replay(after) and returns the ids of the updates it
// passed to fn, in order, with Replay's error. On an error the ids are those
// passed before it; ReplayIDs does not fail t itself.
func ReplayIDs(t *testing.T, st herald.Store, after string) ([]string, error) {
	t.Helper()
	us, err := replay(t, st, after)
	return idsOf(us), err
}

// AppendFromNodes has each of nodes append n updates (topic "t", data
// "node<k>-<i>" for the k-th node), one goroutine per node, all at once, and
// returns the ids of the acknowledged updates sorted by Seq: the order every
// node's watchers must deliver them in. An Append error is reported with
// t.Errorf and ends that node's appends; the ids of the updates acknowledged
// so far are still returned.
func AppendFromNodes(t *testing.T, nodes []herald.Store, n int) []string {
	t.Helper()
	var (
		mu    sync.Mutex
		acked = map[uint64]string{}
		wg    sync.WaitGroup
	)
	for k, s := range nodes {
		wg.Go(func() {
			for i := range n {
				u, err := s.Append(context.Background(), herald.Update{Topics: []string{"t"}, Data: fmt.Sprintf("node%d-%d", k, i)})
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				acked[u.Seq] = u.ID
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	seqs := make([]uint64, 0, len(acked))
	for seq := range acked {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	ids := make([]string, 0, len(seqs))
	for _, seq := range seqs {
		ids = append(ids, acked[seq])
	}
	return ids
}
