package mercure_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/memory"
)

// BenchmarkPublishManyTopics is issue 8's scenario D in-process: 1,000
// subscribers, each on its own topic, and publishers posting over HTTP (form
// body, JWT checked) to the topics in turn, each update delivered to one
// subscriber. It reports publishes/s; run with -cpuprofile to see where a
// publish goes.
//
//	go test -run '^$' -bench PublishManyTopics -benchtime 20000x ./mercure/
func BenchmarkPublishManyTopics(b *testing.B) {
	const topics = 1000
	st := memory.New(memory.Options{})
	defer st.Close()
	h := hub.New(st, hub.Options{})
	key := []byte("bench key")
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{key}})
	if err != nil {
		b.Fatal(err)
	}
	handler, _ := mercure.New(mercure.Config{Hub: h, Publishers: v, Subscribers: v})
	ts := httptest.NewServer(handler)
	defer ts.Close()
	defer h.Close(context.Background())
	tok, _ := auth.Sign("HS256", key, auth.Grant{Publish: []string{"*"}, TTL: time.Hour})

	var received atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range topics {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%s?topic=t%d", ts.URL, mercure.Path, i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) > 5 && string(line[:5]) == "data:" {
					received.Add(1)
				}
			}
		}()
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			body := url.Values{"topic": {fmt.Sprintf("t%d", n%topics)}, "data": {"x"}}.Encode()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+mercure.Path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
	deadline := time.Now().Add(10 * time.Second)
	for received.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := received.Load(); got != int64(b.N) {
		b.Errorf("delivered %d of %d", got, b.N)
	}
}
