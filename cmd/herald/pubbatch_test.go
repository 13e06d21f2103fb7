package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/memory"
)

// batchHub is a hub behind an httptest server, verifying tokens with
// pubTestKey, that counts the batch requests it is sent.
func batchHub(t *testing.T) (base string, batches *atomic.Int64) {
	t.Helper()
	st := memory.New(memory.Options{Instance: "cli"})
	h := hub.New(st, hub.Options{Logger: slog.New(slog.DiscardHandler)})
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{[]byte(pubTestKey)}})
	if err != nil {
		t.Fatal(err)
	}
	mh, err := mercure.New(mercure.Config{Hub: h, Publishers: v, Subscribers: v, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	batches = new(atomic.Int64)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == mercure.BatchPath {
			batches.Add(1)
		}
		mh.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), serveWait)
		defer cancel()
		_ = h.Close(ctx)
		ts.Close()
		_ = st.Close()
	})
	return ts.URL, batches
}

// ndjsonLines returns n lines, line i publishing data "i" to topic t.
func ndjsonLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"topic":"t","data":"%d"}`+"\n", i)
	}
	return b.String()
}

// TestPubBatch: `herald pub --batch` publishes each line of its standard
// input as one update, in requests of --batch-size lines, and prints the
// ids, one per line, in the order of the lines.
func TestPubBatch(t *testing.T) {
	t.Parallel()
	base, batches := batchHub(t)
	s := serveSubscribe(t, base, "topic=t&topic=https://example.com/{x}", http.Header{"Authorization": {"Bearer " + serveToken(t, pubTestKey, auth.Grant{Subscribe: []string{"*"}})}})
	in := ndjsonLines(249) + `{"topic":["https://example.com/1","t"],"data":"last","id":"my-id","type":"kind","private":true,"retry":3000}`
	out, errOut, err := pub(t, strings.NewReader(in), "--batch", "--batch-size", "100", "--hub", base, "--jwt-key", pubTestKey)
	if err != nil {
		t.Fatalf("pub --batch: %v (%s)", err, errOut)
	}
	ids := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(ids) != 250 || ids[249] != "my-id" || !strings.HasSuffix(out, "\n") {
		t.Fatalf("printed %d lines (last %q), want 250 ids ending with my-id", len(ids), ids[len(ids)-1])
	}
	if n := batches.Load(); n != 3 {
		t.Errorf("%d batch requests, want 3 (100, 100 and 50 lines)", n)
	}
	for i, id := range ids {
		ev := s.next(t)
		want := fmt.Sprint(i + 1)
		if i == 249 {
			want = "last"
		}
		if ev.ID != id || ev.Data != want {
			t.Fatalf("event %d: %+v, want id %q data %q", i, ev, id, want)
		}
		if i == 249 && (ev.Type != "kind" || ev.Retry.Milliseconds() != 3000) {
			t.Errorf("last event %+v, want its type and retry", ev)
		}
	}
}

// TestPubBatchStream: a line is posted once it has waited --batch-wait,
// without waiting for the batch to fill or the input to end: a producer
// that writes now and then is published as it goes.
func TestPubBatchStream(t *testing.T) {
	t.Parallel()
	base, _ := batchHub(t)
	s := serveSubscribe(t, base, "topic=t", nil)
	r, w := io.Pipe()
	t.Cleanup(func() { r.Close() }) // a write pub does not read fails
	type result struct {
		out, errOut string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := pub(t, r, "--batch", "--batch-wait", "20ms", "--hub", base, "--jwt-key", pubTestKey)
		done <- result{out, errOut, err}
	}()
	for i := range 3 {
		go fmt.Fprintf(w, `{"topic":"t","data":"%d"}`+"\n", i)
		if ev := s.next(t); ev.Data != fmt.Sprint(i) {
			t.Fatalf("received %+v, want data %d", ev, i)
		}
	}
	w.Close()
	res := <-done
	if res.err != nil || strings.Count(res.out, "\n") != 3 {
		t.Errorf("pub: %v (%s), printed %q; want 3 ids", res.err, res.errOut, res.out)
	}
}

// TestPubBatchErrors: a line the hub refuses is named by its line number
// in the input, with what was published before it; nothing of its batch is
// published. Calling pub --batch wrongly is a usage error.
func TestPubBatchErrors(t *testing.T) {
	t.Parallel()
	base, _ := batchHub(t)
	lines := strings.Split(ndjsonLines(300), "\n")
	lines[149] = `{"topic":"t","data":1}`
	out, _, err := pub(t, strings.NewReader(strings.Join(lines, "\n")), "--batch", "--batch-size", "100", "--hub", base, "--jwt-key", pubTestKey)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("a bad line 150: err %v, want an error (exit code 1)", err)
	}
	for _, want := range []string{`line 150: field "data" must be a string, not a number`, "lines 1-100 were published", "none from line 101 on"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := strings.Count(out, "\n"); n != 100 {
		t.Errorf("printed %d ids, want the 100 of the first batch", n)
	}

	only := serveToken(t, pubTestKey, auth.Grant{Publish: []string{"t"}})
	in := `{"topic":"t"}` + "\n" + `{"topic":"t"}` + "\n" + `{"topic":"u"}` + "\n"
	out, _, err = pub(t, strings.NewReader(in), "--batch", "--hub", base, "--token", only)
	if err == nil || !strings.Contains(err.Error(), "line 3: the token's mercure.publish claim does not allow publishing to \"u\"") ||
		!strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "nothing was published") || out != "" {
		t.Errorf("a topic not allowed on line 3: printed %q, err %v; want a 403 naming line 3, nothing published", out, err)
	}

	_, _, err = pub(t, strings.NewReader(in), "--batch", "--hub", base, "--jwt-key", "wrong key")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "lines 1-3") {
		t.Errorf("wrong key: %v, want a 401 for lines 1-3", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch", "--topic", "t"}, "--batch takes the updates from standard input, one JSON object per line: --topic"},
		{[]string{"--batch", "--data", "x", "--private"}, "--data, --private"},
		{[]string{"--batch", "--batch-size", "0"}, "--batch-size must be between 1 and 1000"},
		{[]string{"--batch", "--batch-size", "1001"}, "--batch-size must be between 1 and 1000"},
		{[]string{"--batch-size", "10", "--topic", "t", "--data", "x"}, "--batch-size and --batch-wait go with --batch"},
	} {
		_, _, err := pub(t, strings.NewReader(""), append(tc.args, "--hub", base, "--jwt-key", pubTestKey)...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pub %q: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestPubBatchEmpty: no input, no request, no output.
func TestPubBatchEmpty(t *testing.T) {
	t.Parallel()
	base, batches := batchHub(t)
	out, errOut, err := pub(t, strings.NewReader(""), "--batch", "--hub", base, "--jwt-key", pubTestKey)
	if err != nil || out != "" || batches.Load() != 0 {
		t.Errorf("empty input: %v (%s), printed %q, %d requests; want nothing", err, errOut, out, batches.Load())
	}
}
