package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/mercure"
)

// TestKillKeepsEveryAcknowledgedBatch: publishers post batches to a hub on
// the embedded bolt store, which is killed (SIGKILL) in the middle of it and
// started again on the same data directory. History then holds every
// acknowledged batch with the ids it was acknowledged with, each whole and
// in order; a batch whose answer was lost is there whole or not at all.
func TestKillKeepsEveryAcknowledgedBatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	store := "bolt:" + t.TempDir()
	hub := startNode(t, "hub", store)
	if hub == nil {
		t.FailNow()
	}
	p := newPublisher(t)
	const publishers, size = 4, 50
	type batch struct {
		datas []string
		ids   []string // set when acknowledged
	}
	var mu sync.Mutex
	var batches []*batch
	acked := make(chan struct{}, 1000)
	pubCtx, stopPublishing := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for k := range publishers {
		wg.Go(func() {
			for n := 0; pubCtx.Err() == nil; n++ {
				b := &batch{}
				var body bytes.Buffer
				for i := range size {
					d := fmt.Sprintf("%d/%d/%d", k, n, i)
					b.datas = append(b.datas, d)
					fmt.Fprintf(&body, `{"topic":%q,"data":%q}`+"\n", clusterTopic, d)
				}
				mu.Lock()
				batches = append(batches, b)
				mu.Unlock()
				req, _ := http.NewRequestWithContext(pubCtx, http.MethodPost, hub.base+mercure.BatchPath, &body)
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("Authorization", "Bearer "+p.token)
				resp, err := p.client.Do(req)
				if err != nil {
					return // the hub is gone
				}
				answer, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					return
				}
				mu.Lock()
				b.ids = strings.Split(strings.TrimSuffix(string(answer), "\n"), "\n")
				mu.Unlock()
				select {
				case acked <- struct{}{}:
				default:
				}
			}
		})
	}
	for range 20 {
		select {
		case <-acked:
		case <-ctx.Done():
			t.Fatal("fewer than 20 batches acknowledged")
		}
	}
	hub.kill() // SIGKILL, mid-burst
	stopPublishing()
	wg.Wait()

	hub = startNode(t, "hub-restarted", store)
	if hub == nil {
		t.FailNow()
	}
	s := serveSubscribe(t, hub.base, "topic="+clusterTopic, http.Header{"Last-Event-ID": {"earliest"}})
	if _, status, err := p.publish(ctx, hub, "sentinel"); err != nil || status != http.StatusOK {
		t.Fatalf("publishing after the restart: %d %v", status, err)
	}
	got := map[string]string{} // data -> id, in history
	var order []string
	for {
		ev := s.next(t)
		if ev.Data == "sentinel" {
			break
		}
		if _, dup := got[ev.Data]; dup {
			t.Fatalf("%q is in history twice", ev.Data)
		}
		got[ev.Data] = ev.ID
		order = append(order, ev.Data)
	}
	pos := map[string]int{}
	for i, d := range order {
		pos[d] = i
	}
	nAcked := 0
	for _, b := range batches {
		n := 0
		for _, d := range b.datas {
			if _, ok := got[d]; ok {
				n++
			}
		}
		switch {
		case b.ids != nil && n != size:
			t.Errorf("acknowledged batch %s… has %d of its %d updates in history", b.datas[0], n, size)
			continue
		case n != 0 && n != size:
			t.Errorf("batch %s… is in history in part: %d of %d updates", b.datas[0], n, size)
			continue
		case n == 0:
			continue
		}
		for i, d := range b.datas {
			if pos[d] != pos[b.datas[0]]+i {
				t.Errorf("batch %s… is not contiguous in history: %s at %d, want %d", b.datas[0], d, pos[d], pos[b.datas[0]]+i)
				break
			}
			if b.ids != nil && got[d] != b.ids[i] {
				t.Errorf("%s is in history with id %q, acknowledged as %q", d, got[d], b.ids[i])
				break
			}
		}
		if b.ids != nil {
			nAcked++
		}
	}
	t.Logf("%d batches of %d attempted, %d acknowledged; %d updates in history", len(batches), size, nAcked, len(order))
}
