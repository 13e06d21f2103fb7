package mercure_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/memory"
)

const ndjson = "application/x-ndjson"

// postBatch posts body to the hub's batch endpoint with the headers in hdr
// (Content-Type application/x-ndjson unless hdr says otherwise) and returns
// the response with its body read and closed.
func postBatch(t testing.TB, e *hubtest.Env, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+mercure.BatchPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ndjson)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", mercure.BatchPath, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the batch response: %v", err)
	}
	return resp, string(b)
}

// publishBatch posts lines (one JSON object each) with a token that may
// publish anywhere, requires a 200 text/plain answer, and returns its ids.
func publishBatch(t testing.TB, e *hubtest.Env, lines ...string) []string {
	t.Helper()
	resp, body := postBatch(t, e, strings.Join(lines, "\n")+"\n", hubtest.Bearer(hubtest.PublisherToken(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("batch: %s: %s", resp.Status, body)
	}
	if mt := hubtest.MediaType(resp); mt != "text/plain" {
		t.Fatalf("batch answered with Content-Type %q, want text/plain", resp.Header.Get("Content-Type"))
	}
	ids := strings.Split(body, "\n")
	if len(ids) != len(lines)+1 || ids[len(ids)-1] != "" {
		t.Fatalf("batch of %d lines answered %q, want one id per line, each ending with a line break", len(lines), body)
	}
	return ids[:len(lines)]
}

// TestBatch: every line of a batch becomes one update, with every field of
// the line; the answer is 200 text/plain with their ids, one per line, in
// the order of the lines; subscribers receive the updates in that order.
func TestBatch(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Store: memory.New(memory.Options{Instance: "b"})})
	books := e.Subscribe(t, hubtest.Topics("https://example.com/books/{id}", hubtest.Sentinel), nil)
	alternate := e.Subscribe(t, hubtest.Topics("https://example.com/alt/2", hubtest.Sentinel), nil)
	private := e.Subscribe(t, hubtest.Topics("https://example.com/users/{u}", hubtest.Sentinel), hubtest.Bearer(hubtest.SubscriberToken(t, "https://example.com/users/alice")))
	anon := e.Subscribe(t, hubtest.Topics("https://example.com/users/{u}", hubtest.Sentinel), nil)

	ids := publishBatch(t, e,
		`{"topic": "https://example.com/books/1", "data": "{\"title\": \"Dune\"}", "type": "book.updated"}`,
		`{"topic": ["https://example.com/books/2", "https://example.com/alt/2"], "data": "two\nlines", "id": "book-2-v7", "retry": 1500}`,
		`{"topic": "https://example.com/users/alice", "data": "secret", "private": true}`,
		`{"topic": "https://example.com/books/3", "private": false}`,
	)
	if ids[0] != "urn:herald:b:1" || ids[1] != "book-2-v7" || ids[2] != "urn:herald:b:3" || ids[3] != "urn:herald:b:4" {
		t.Errorf("ids %q, want the generated ids and the chosen one, in the order of the lines", ids)
	}
	got := e.Flush(t, books, alternate, private, anon)
	want := [][]string{{ids[0], ids[1], ids[3]}, {ids[1]}, {ids[2]}, nil}
	for i, name := range []string{"books", "alternate topic", "authorized", "anonymous"} {
		if g := hubtest.IDs(got[i]); strings.Join(g, " ") != strings.Join(want[i], " ") {
			t.Errorf("%s subscriber received %q, want %q", name, g, want[i])
		}
	}
	if ev := got[0][0]; ev.Type != "book.updated" || ev.Data != `{"title": "Dune"}` {
		t.Errorf("first update received as %+v", ev)
	}
	if ev := got[0][1]; ev.Data != "two\nlines" || ev.Retry != 1500*time.Millisecond || ev.Type != "message" {
		t.Errorf("second update received as %+v", ev)
	}
	if ev := got[2][0]; ev.Data != "secret" {
		t.Errorf("private update received as %+v", ev)
	}
}

// TestBatchLastLine: the last line needs no line break; CRLF line breaks
// work; an empty body is an empty batch (200, no id).
func TestBatchLastLine(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	for body, n := range map[string]int{
		`{"topic":"t"}`: 1,
		"{\"topic\":\"t\"}\r\n{\"topic\":\"t\"}\r\n": 2,
		"{\"topic\":\"t\"}\n{\"topic\":\"t\"}":       2,
		"":                                           0,
	} {
		resp, got := postBatch(t, e, body, hdr)
		if resp.StatusCode != http.StatusOK || strings.Count(got, "\n") != n || (n == 0 && got != "") {
			t.Errorf("%q: %s %q, want 200 with %d ids", body, resp.Status, got, n)
		}
	}
}

// batchStatus posts body and returns the status, the line the answer names
// (Herald-Batch-Line, 0 when absent) and the message.
func batchStatus(t *testing.T, e *hubtest.Env, body string, hdr http.Header) (int, int, string) {
	t.Helper()
	resp, msg := postBatch(t, e, body, hdr)
	line := 0
	if h := resp.Header.Get("Herald-Batch-Line"); h != "" {
		var err error
		if line, err = strconv.Atoi(h); err != nil {
			t.Fatalf("Herald-Batch-Line: %q", h)
		}
	}
	if resp.StatusCode != http.StatusOK && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("error answered with Content-Type %q, want text/plain", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, line, strings.TrimSpace(msg)
}

// TestBatchAllOrNothing: a batch with a line at fault anywhere, for any
// reason, is refused whole with a status that says why and a message that
// names the line: nothing of it is stored or delivered. Lines are checked
// in order, and the first at fault is named; an id held in history is
// found when the checked batch is stored.
func TestBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) herald.Store{
		"memory": func(*testing.T) herald.Store { return memory.New(memory.Options{}) },
		"bolt": func(t *testing.T) herald.Store {
			s, err := bolt.Open(t.TempDir(), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Store: open(t), Mercure: mercure.Config{MaxDataBytes: 100, MaxTopics: 3}})
			s := e.Subscribe(t, hubtest.Topics("*"), hubtest.Bearer(hubtest.SubscriberToken(t, "*")))
			held := e.Publish(t, map[string][]string{"topic": {"t"}, "id": {"held"}})
			_, lastSeq, _ := e.Store.Last(context.Background())
			good := `{"topic":"t","data":"fine"}`
			hdr := hubtest.Bearer(hubtest.Sign(t, hubtest.PubKey, auth.Grant{Publish: []string{"t", "u/{x}"}}))
			for _, tc := range []struct {
				name   string
				bad    string // the third of five lines
				status int
				want   string
			}{
				{"not JSON", `{"topic":"t",`, http.StatusBadRequest, "line 3: invalid JSON at column"},
				{"unknown field", `{"topic":"t","dat":"x"}`, http.StatusBadRequest, `line 3: unknown field "dat"`},
				{"duplicate field", `{"topic":"t","data":"a","data":"b"}`, http.StatusBadRequest, `line 3: field "data" is given twice`},
				{"empty line", ``, http.StatusBadRequest, "line 3: empty line"},
				{"no topic", `{"data":"x"}`, http.StatusBadRequest, `line 3: missing "topic" field`},
				{"too many topics", `{"topic":["t","t","t","t"]}`, http.StatusBadRequest, "line 3: too many topics"},
				{"invalid id", `{"topic":"t","id":"#x"}`, http.StatusBadRequest, "line 3: id must not start with '#'"},
				{"invalid topic", `{"topic":"a\u0001b"}`, http.StatusBadRequest, "line 3: topic contains control character"},
				{"type with a line break", `{"topic":"t","type":"a\nb"}`, http.StatusBadRequest, "line 3: type must not contain CR, LF or NUL"},
				{"data too large", `{"topic":"t","data":"` + strings.Repeat("x", 101) + `"}`, http.StatusRequestEntityTooLarge, "line 3: the data is 101 bytes long, over the data limit of 100 bytes"},
				{"topic not allowed", `{"topic":["t","v"]}`, http.StatusForbidden, `line 3: the token's mercure.publish claim does not allow publishing to "t", "v"`},
				{"reserved topic", `{"topic":"/.well-known/mercure/subscriptions/x"}`, http.StatusForbidden, "line 3: topic \"/.well-known/mercure/subscriptions/x\" is reserved"},
				{"id held", `{"topic":"t","id":"held"}`, http.StatusConflict, `line 3: the id "held" is already held in history`},
				{"id twice", `{"topic":"t","id":"dup"}` + "\n" + `{"topic":"u/1","id":"dup"}`, http.StatusConflict, `line 4: the id "dup" is the id of line 3`},
			} {
				body := strings.Join([]string{good, `{"topic":"u/1"}`, tc.bad, good, good}, "\n")
				status, line, msg := batchStatus(t, e, body, hdr)
				wantLine := 3
				if strings.HasPrefix(tc.want, "line 4") {
					wantLine = 4
				}
				if status != tc.status || !strings.HasPrefix(msg, tc.want) || line != wantLine {
					t.Errorf("%s: %d %q (Herald-Batch-Line %d), want %d starting %q (line %d)", tc.name, status, msg, line, tc.status, tc.want, wantLine)
				}
			}
			// Two lines at fault: the first is named; an id held in
			// history is found only when the batch is stored, once every
			// line passed the checks.
			body := strings.Join([]string{good, `{"topic":"t",`, `{"topic":"v"}`}, "\n")
			if status, line, msg := batchStatus(t, e, body, hdr); status != http.StatusBadRequest || line != 2 {
				t.Errorf("bad JSON on line 2 and a forbidden topic on line 3: %d %q (line %d), want the 400 of line 2", status, msg, line)
			}
			body = strings.Join([]string{good, `{"topic":"t","id":"held"}`, `{"topic":"v"}`}, "\n")
			if status, line, msg := batchStatus(t, e, body, hdr); status != http.StatusForbidden || line != 3 {
				t.Errorf("an id held on line 2 and a forbidden topic on line 3: %d %q (line %d), want the 403 of line 3", status, msg, line)
			}

			if _, seq, err := e.Store.Last(context.Background()); err != nil || seq != lastSeq {
				t.Errorf("the store's newest update is %d (%v), want %d: refused batches stored something", seq, err, lastSeq)
			}
			e.PublishData(t, "after", "t")
			if got := hubtest.Datas(s.Until(t, held)); len(got) != 1 {
				t.Fatalf("received %q before the update published first", got)
			}
			if got := s.Next(t); got.Data != "after" {
				t.Errorf("the subscriber received %+v after the refused batches, want only the update published after them", got)
			}
		})
	}
}

// TestBatchAuthorization: a batch needs a publisher token, from a page on
// an allowed origin when it comes in a cookie; each update is authorized
// on its own against the token's mercure.publish claim.
func TestBatchAuthorization(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{CORSOrigins: []string{"https://app.example"}}})
	body := `{"topic":"https://example.com/books/1"}` + "\n" + `{"topic":"https://example.com/books/2"}`
	cookie := (&http.Cookie{Name: auth.CookieName, Value: hubtest.PublisherToken(t)}).String()
	books := hubtest.Sign(t, hubtest.PubKey, auth.Grant{Publish: []string{"https://example.com/books/{id}"}})
	one := hubtest.Sign(t, hubtest.PubKey, auth.Grant{Publish: []string{"https://example.com/books/1"}})
	for _, tc := range []struct {
		name   string
		hdr    http.Header
		status int
		line   int
	}{
		{"no token", nil, http.StatusUnauthorized, 0},
		{"wrong key", hubtest.Bearer(hubtest.Sign(t, []byte("wrong"), auth.Grant{Publish: []string{"*"}})), http.StatusUnauthorized, 0},
		{"subscriber key", hubtest.Bearer(hubtest.Sign(t, hubtest.SubKey, auth.Grant{Publish: []string{"*"}})), http.StatusUnauthorized, 0},
		{"every topic allowed", hubtest.Bearer(books), http.StatusOK, 0},
		{"the second topic not allowed", hubtest.Bearer(one), http.StatusForbidden, 2},
		{"cookie, no origin", http.Header{"Cookie": {cookie}}, http.StatusOK, 0},
		{"cookie, allowed origin", http.Header{"Cookie": {cookie}, "Origin": {"https://app.example"}}, http.StatusOK, 0},
		{"cookie, foreign origin", http.Header{"Cookie": {cookie}, "Origin": {"https://evil.example"}}, http.StatusForbidden, 0},
	} {
		status, line, msg := batchStatus(t, e, body, tc.hdr)
		if status != tc.status || line != tc.line {
			t.Errorf("%s: %d %q (line %d), want %d (line %d)", tc.name, status, msg, line, tc.status, tc.line)
		}
	}
}

// TestBatchLimits: Config.MaxBatch bounds the updates of a batch, and
// Config.MaxBatchBodyBytes its body; each 413 names the limit.
func TestBatchLimits(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{MaxBatch: 3, MaxBatchBodyBytes: 200}})
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	line := `{"topic":"t"}`
	if status, _, msg := batchStatus(t, e, strings.Repeat(line+"\n", 3), hdr); status != http.StatusOK {
		t.Errorf("3 updates: %d %q, want 200", status, msg)
	}
	status, l, msg := batchStatus(t, e, strings.Repeat(line+"\n", 4), hdr)
	if status != http.StatusRequestEntityTooLarge || l != 4 || !strings.Contains(msg, "line 4: more than 3 updates") {
		t.Errorf("4 updates: %d %q (line %d), want 413 naming line 4 and the limit of 3", status, msg, l)
	}
	status, _, msg = batchStatus(t, e, `{"topic":"t","data":"`+strings.Repeat("x", 200)+`"}`, hdr)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "200 bytes") {
		t.Errorf("a 220-byte body: %d %q, want 413 naming the body limit of 200", status, msg)
	}
	// The limits cannot exceed what a store takes in one batch.
	if _, err := mercure.New(mercure.Config{Hub: e.Hub, MaxBatch: herald.MaxBatchLen + 1}); err == nil {
		t.Errorf("mercure.New accepted MaxBatch %d, over herald.MaxBatchLen", herald.MaxBatchLen+1)
	}
}

// TestBatchRequest: the endpoint takes POST with Content-Type
// application/x-ndjson (a browser cannot send that cross-origin without
// asking first), and says so otherwise.
func TestBatchRequest(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json"} {
		h := hdr.Clone()
		h.Set("Content-Type", ct)
		if status, _, msg := batchStatus(t, e, `{"topic":"t"}`, h); status != http.StatusUnsupportedMediaType || !strings.Contains(msg, ndjson) {
			t.Errorf("Content-Type %q: %d %q, want 415 naming %s", ct, status, msg, ndjson)
		}
	}
	for _, ct := range []string{"application/x-ndjson; charset=utf-8", "Application/X-NDJSON"} {
		h := hdr.Clone()
		h.Set("Content-Type", ct)
		if status, _, msg := batchStatus(t, e, `{"topic":"t"}`, h); status != http.StatusOK {
			t.Errorf("Content-Type %q: %d %q, want 200", ct, status, msg)
		}
	}
	resp, _ := e.GetText(t, strings.TrimPrefix(mercure.BatchPath, mercure.Path), hdr)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST, OPTIONS" {
		t.Errorf("GET: %s (Allow %q), want 405 allowing POST, OPTIONS", resp.Status, resp.Header.Get("Allow"))
	}
}

// TestBatchMetrics: the updates of a batch count in herald_published_total
// one by one, and a refused batch counts once among the publish errors,
// under its reason.
func TestBatchMetrics(t *testing.T) {
	t.Parallel()
	m := &publishMetrics{}
	c := &hubCounters{}
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{Metrics: m}, Hub: hubOptions(c)})
	publishBatch(t, e, `{"topic":"a"}`, `{"topic":"b"}`, `{"topic":"c"}`)
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	for body, reason := range map[string]string{
		`{"topic":"a"}` + "\n" + `{"topic":1}`:                     "invalid",
		`{"topic":"a","id":"x"}` + "\n" + `{"topic":"b","id":"x"}`: "conflict",
		`{"topic":"/.well-known/mercure/x"}`:                       "forbidden",
	} {
		postBatch(t, e, body, hdr)
		if got := m.count(reason); got != 1 {
			t.Errorf("%q: %d publish errors of reason %q, want 1", body, got, reason)
		}
	}
	if got := c.published.Load(); got != 3 {
		t.Errorf("published %d, want 3", got)
	}
}

// hubCounters is a hub.Metrics that counts the updates published.
type hubCounters struct{ published atomic.Int64 }

func (c *hubCounters) SubscriberAdded()                  {}
func (c *hubCounters) SubscriberRemoved(hub.CloseReason) {}
func (c *hubCounters) Published(n int)                   { c.published.Add(int64(n)) }
func (c *hubCounters) Delivered(int)                     {}
func (c *hubCounters) Replayed(int)                      {}
func (c *hubCounters) HistoryGap()                       {}
func (c *hubCounters) Refused(string)                    {}

func hubOptions(m hub.Metrics) hub.Options { return hub.Options{Metrics: m} }

// TestBatchBodyTimeout: a batch body that does not arrive within
// Config.BodyTimeout gets a 408, and its connection is closed.
func TestBatchBodyTimeout(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{BodyTimeout: 200 * time.Millisecond}})
	addr := strings.TrimPrefix(e.Server.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\n{\"topic\":\"t\"}\n",
		mercure.BatchPath, addr, hubtest.PublisherToken(t), ndjson)
	conn.SetReadDeadline(time.Now().Add(hubtest.WaitTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("%s, want 408", resp.Status)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the connection stayed open")
	}
}

// TestBatchContiguous: batches posted at once on one topic each reach a
// subscriber whole and in order, never interleaved.
func TestBatchContiguous(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	s := e.Subscribe(t, hubtest.Topics("t"), nil)
	const posters, batches, size = 4, 5, 30
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for b := range batches {
				var body strings.Builder
				for i := range size {
					fmt.Fprintf(&body, `{"topic":"t","data":"%d/%d/%d"}`+"\n", p, b, i)
				}
				if resp, msg := postBatch(t, e, body.String(), hubtest.Bearer(hubtest.PublisherToken(t))); resp.StatusCode != http.StatusOK {
					t.Errorf("batch: %s %q", resp.Status, msg)
					return
				}
			}
		})
	}
	wg.Wait()
	for range posters * batches {
		var p0, b0 int
		for i := range size {
			ev := s.Next(t)
			var p, b, k int
			fmt.Sscanf(ev.Data, "%d/%d/%d", &p, &b, &k)
			if i == 0 {
				p0, b0 = p, b
			}
			if p != p0 || b != b0 || k != i {
				t.Fatalf("received %q as update %d of batch %d/%d: batches interleaved or out of order", ev.Data, i, p0, b0)
			}
		}
	}
}

// TestBatchCORS: a page on an allowed origin may post a batch (after the
// preflight its Content-Type requires) and read which line was refused.
func TestBatchCORS(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{CORSOrigins: []string{"https://app.example"}}})
	req, _ := http.NewRequest(http.MethodOptions, e.Server.URL+mercure.BatchPath, nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight: %s, Allow-Methods %q, Allow-Headers %q", resp.Status, resp.Header.Get("Access-Control-Allow-Methods"), resp.Header.Get("Access-Control-Allow-Headers"))
	}
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	hdr.Set("Origin", "https://app.example")
	resp, _ = postBatch(t, e, `{"topic":"t"}`+"\n"+`{"topic":1}`, hdr)
	if exposed := resp.Header.Get("Access-Control-Expose-Headers"); resp.Header.Get(mercure.BatchLineHeader) != "2" || !strings.Contains(exposed, mercure.BatchLineHeader) {
		t.Errorf("refused batch: %s with %s %q, Access-Control-Expose-Headers %q: the page cannot read the line", resp.Status, mercure.BatchLineHeader, resp.Header.Get(mercure.BatchLineHeader), exposed)
	}
}

// TestBatchWhileShuttingDown: once the hub is shutting down, batches are
// refused with a 503, so that publishers retry (on another node).
func TestBatchWhileShuttingDown(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	e.Hub.CloseStreams()
	status, line, msg := batchStatus(t, e, `{"topic":"t"}`, hubtest.Bearer(hubtest.PublisherToken(t)))
	if status != http.StatusServiceUnavailable || line != 0 || msg == "" {
		t.Errorf("a batch while shutting down: %d %q (line %d), want 503 with a message naming no line", status, msg, line)
	}
}
