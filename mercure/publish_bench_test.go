package mercure_test

import (
	"bufio"
	"bytes"
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
	hdr := publishHeader(tok)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			body := url.Values{"topic": {fmt.Sprintf("t%d", n%topics)}, "data": {"x"}}.Encode()
			if !benchPost(b, client, ts.URL, []byte(body), hdr) {
				return
			}
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

// benchBodies are publish bodies as publishers send them: url.Values.Encode
// escapes the ':' and '/' of URL topics, and data has spaces and line breaks.
var benchBodies = map[string]string{
	"small": "topic=t&data=x",
	"typical": url.Values{
		"topic": {"https://example.com/books/1"},
		"data":  {`{"id": 1, "title": "The Go Programming Language", "stock": 12}`},
		"type":  {"book.updated"},
	}.Encode(),
	"4KiB": url.Values{
		"topic": {"https://example.com/books/1", "https://example.com/alternate/1"},
		"data":  {strings.Repeat("line of text\n", 4096/13)},
	}.Encode(),
}

// newBenchHandler is a handler on a memory hub, with a token that may
// publish anywhere.
func newBenchHandler(b *testing.B) (http.Handler, string) {
	st := memory.New(memory.Options{})
	b.Cleanup(func() { st.Close() })
	h := hub.New(st, hub.Options{})
	b.Cleanup(func() { h.Close(context.Background()) })
	key := []byte("bench key")
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{key}})
	if err != nil {
		b.Fatal(err)
	}
	handler, err := mercure.New(mercure.Config{Hub: h, Publishers: v, Subscribers: v})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := auth.Sign("HS256", key, auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return handler, tok
}

// BenchmarkPublishHTTP: 16 keep-alive publishers (on 2 CPUs; 8 per CPU)
// posting form bodies to a real HTTP server, no subscribers: the cost of
// the publish request itself, client included (same process).
//
//	go test -run '^$' -bench PublishHTTP -benchmem ./mercure/
func BenchmarkPublishHTTP(b *testing.B) {
	for _, name := range []string{"small", "typical"} {
		b.Run(name, func(b *testing.B) {
			handler, tok := newBenchHandler(b)
			ts := httptest.NewServer(handler)
			defer ts.Close()
			body := []byte(benchBodies[name])
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			hdr := publishHeader(tok)
			b.SetParallelism(8)
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !benchPost(b, client, ts.URL, body, hdr) {
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
		})
	}
}

// benchWriter is a ResponseWriter that keeps only the status.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteString(s string) (int, error) {
	return len(s), nil
}

// benchBody is a request body that can be rewound without allocating.
type benchBody struct{ *bytes.Reader }

func (benchBody) Close() error { return nil }

// BenchmarkPublishHandler: the handler alone, called in-process with a
// reused request and writer, so that B/op and allocs/op are the server
// side's own (token check, form parsing, hub and store, response headers).
//
//	go test -run '^$' -bench PublishHandler -benchmem ./mercure/
func BenchmarkPublishHandler(b *testing.B) {
	for _, name := range []string{"small", "typical", "4KiB"} {
		b.Run(name, func(b *testing.B) {
			handler, tok := newBenchHandler(b)
			body := []byte(benchBodies[name])
			br := bytes.NewReader(body)
			rc := benchBody{br}
			req := httptest.NewRequest(http.MethodPost, mercure.Path, nil)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+tok)
			req.ContentLength = int64(len(body))
			w := &benchWriter{h: make(http.Header)}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				br.Reset(body)
				req.Body = rc
				req.Form, req.PostForm = nil, nil
				clear(w.h)
				w.status = 0
				handler.ServeHTTP(w, req)
				if w.status != http.StatusOK && w.status != 0 {
					b.Fatalf("publish: %d", w.status)
				}
			}
		})
	}
}

// publishHeader returns the headers of a form publish with tok.
func publishHeader(tok string) http.Header {
	return http.Header{
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {"Bearer " + tok},
	}
}

// benchPost publishes body to the hub at base and reports whether it got a
// 200 (it records the error otherwise).
func benchPost(b *testing.B, client *http.Client, base string, body []byte, hdr http.Header) bool {
	req, _ := http.NewRequest(http.MethodPost, base+mercure.Path, bytes.NewReader(body))
	req.Header = hdr
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("publish: %s", resp.Status)
		return false
	}
	return true
}
