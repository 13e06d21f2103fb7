// Command tlsidle measures what an idle subscriber costs a hub over TLS,
// with HTTP/2 or HTTP/1.1: it opens -n subscriptions to -hub, each on a
// connection of its own (as n browsers would), waits, and reports the
// growth of the server's resident memory (from /proc/PID/status) per
// subscriber. `herald bench` speaks HTTP/1.1 only, so scenario A does not
// cover HTTP/2.
//
//	herald serve --addr 127.0.0.1:8443 --store memory: --tls-cert cert.pem --tls-key key.pem &
//	cd bench && go run ./cmd/tlsidle -hub https://127.0.0.1:8443 -pid $! -n 3000 [-h2=false]
//
// The certificate is not verified. Every connection is closed before exit;
// the run is bounded by -timeout.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int("n", 3000, "subscriptions, one connection each (keep it under the open-file limit)")
	hub := flag.String("hub", "", "the hub's base URL, https://host:port")
	pid := flag.Int("pid", 0, "the hub's process id")
	h2 := flag.Bool("h2", true, "HTTP/2 (false: HTTP/1.1 over TLS)")
	settle := flag.Duration("settle", 3*time.Second, "wait this long after the last subscription before reading the memory")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()
	if *hub == "" || *pid <= 0 || *n < 1 || *n > 19000 {
		fmt.Fprintln(os.Stderr, "tlsidle: -hub and -pid are required, -n from 1 to 19000")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	before, err := rssKB(*pid)
	if err != nil {
		fail(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		bodies []io.Closer
		good   atomic.Int64
		first  atomic.Pointer[string]
		sem    = make(chan struct{}, 50)
	)
	want := map[bool]int{true: 2, false: 1}[*h2]
	for i := range *n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: *h2}
			if !*h2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/.well-known/mercure?topic=t%d", *hub, i), nil)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				s := err.Error()
				first.CompareAndSwap(nil, &s)
				return
			}
			mu.Lock()
			bodies = append(bodies, resp.Body)
			mu.Unlock()
			if resp.StatusCode == http.StatusOK && resp.ProtoMajor == want {
				good.Add(1)
				return
			}
			s := fmt.Sprintf("%s over %s", resp.Status, resp.Proto)
			first.CompareAndSwap(nil, &s)
		})
	}
	wg.Wait()
	select {
	case <-time.After(*settle):
	case <-ctx.Done():
	}
	after, err := rssKB(*pid)
	for _, b := range bodies {
		b.Close()
	}
	if err != nil {
		fail(err)
	}
	proto := map[bool]string{true: "HTTP/2", false: "HTTP/1.1"}[*h2]
	fmt.Printf("%s over TLS: %d of %d subscriptions open; server RSS %d KB -> %d KB: %.1f KB per subscriber\n",
		proto, good.Load(), *n, before, after, float64(after-before)/float64(max(good.Load(), 1)))
	if p := first.Load(); p != nil {
		fmt.Println("first problem:", *p)
	}
	if good.Load() != int64(*n) {
		os.Exit(1)
	}
}

func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tlsidle:", err)
	os.Exit(1)
}
