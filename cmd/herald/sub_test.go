package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
)

// subServer is a test server whose n-th request (from 0) is served by
// handlers[n], or the last one once they run out. It records the requests.
type subServer struct {
	*httptest.Server
	handlers []http.HandlerFunc

	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func newSubServer(t *testing.T, handlers ...http.HandlerFunc) *subServer {
	t.Helper()
	s := &subServer{handlers: handlers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, r.Clone(context.Background()))
		s.body = append(s.body, string(b))
		s.mu.Unlock()
		s.handlers[min(n, len(s.handlers)-1)](w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *subServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// stream answers with text/event-stream, writes body and ends the response.
func stream(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}
}

// noContent answers 204: the end of the stream for good.
func noContent(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }

// sub runs "herald sub args" and returns its stdout, stderr and error.
func sub(t *testing.T, ctx context.Context, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runSub(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestSubJSON(t *testing.T) {
	s := newSubServer(t,
		stream("retry: 1\n\nid: 1\ndata: hello\n\nevent: update\ndata: line one\ndata: line two\n\ndata: <b>&\"quoted\"</b>\n\nid: 2\ndata: cut off"),
		stream("data: after reconnect\n\n"),
		noContent)
	stdout, stderr, err := sub(t, t.Context(), "", "--json", s.URL)
	if err != nil {
		t.Fatalf("err = %v, want nil (exit 0 on 204); stderr:\n%s", err, stderr)
	}
	want := `{"event":"message","data":"hello","id":"1"}
{"event":"update","data":"line one\nline two","id":"1"}
{"event":"message","data":"<b>&\"quoted\"</b>","id":"1"}
{"event":"message","data":"after reconnect","id":"1"}
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	for _, msg := range []string{
		"connecting to " + s.URL,
		"connected (200 OK)",
		"server closed the stream; reconnecting in 1ms",
		"the server ended the stream (204 No Content)",
	} {
		if !strings.Contains(stderr, msg) {
			t.Errorf("stderr lacks %q:\n%s", msg, stderr)
		}
	}
	if got := s.requests()[1].Header.Get("Last-Event-ID"); got != "1" {
		t.Errorf("reconnection Last-Event-ID = %q, want 1", got)
	}
}

func TestSubHumanOutput(t *testing.T) {
	s := newSubServer(t, stream("id: 7\nevent: update\ndata: {\"a\":1}\ndata: second line\n\ndata\n\ndata: \x1b[31mred\x1b[0m\n\n"), noContent)
	stdout, _, err := sub(t, t.Context(), "", "--retry", "1ms", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	ts := `\d\d:\d\d:\d\d\.\d\d\d`
	want := regexp.MustCompile(`^` + ts + ` event=update id=7\n  \{"a":1\}\n  second line\n` +
		ts + ` event=message id=7\n  \(no data\)\n` +
		ts + ` event=message id=7\n  \\x1b\[31mred\\x1b\[0m\n$`)
	if !want.MatchString(stdout) {
		t.Errorf("stdout:\n%s\nwant to match:\n%s", stdout, want)
	}
}

// TestSubJSONLinesAreNotHeldBack: each event is written at once, as one
// whole line, while the stream is still open.
func TestSubJSONLinesAreNotHeldBack(t *testing.T) {
	s := newSubServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 1\ndata: first\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	writes := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- runSub(ctx, []string{"--json", s.URL}, strings.NewReader(""), writerFunc(func(p []byte) (int, error) {
			writes <- string(p)
			return len(p), nil
		}), io.Discard)
	}()
	select {
	case got := <-writes:
		if want := `{"event":"message","data":"first","id":"1"}` + "\n"; got != want {
			t.Errorf("first write = %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no line written while the stream is open")
	}
	cancel() // Ctrl-C
	if err := <-done; err != nil {
		t.Errorf("err after Ctrl-C = %v, want nil (exit 0)", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestSubRequestFlags(t *testing.T) {
	s := newSubServer(t, stream("data: x\n\n"), noContent)
	_, stderr, err := sub(t, t.Context(), "",
		"-H", "X-One: 1", "--header", "X-Two:  two words ", "-H", "X-One: again",
		"--token", "secret", "--last-event-id", "42", "--retry", "1ms", s.URL, "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Errorf("stderr with --quiet = %q, want nothing", stderr)
	}
	r := s.requests()[0]
	if got := r.Header.Values("X-One"); len(got) != 2 || got[0] != "1" || got[1] != "again" {
		t.Errorf("X-One = %q", got)
	}
	checks := map[string]string{"X-Two": "two words", "Authorization": "Bearer secret", "Last-Event-ID": "42", "Accept": "text/event-stream"}
	for name, want := range checks {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if r.Method != "GET" {
		t.Errorf("method = %s, want GET", r.Method)
	}
}

func TestSubRequestBody(t *testing.T) {
	tests := []struct {
		args       []string
		stdin      string
		wantMethod string
		wantBody   string
	}{
		{[]string{"--body", `{"q":1}`}, "", "POST", `{"q":1}`},
		{[]string{"-X", "REPORT", "--body", "@-"}, "from stdin", "REPORT", "from stdin"},
		{[]string{"-X", "DELETE"}, "", "DELETE", ""},
	}
	for _, tt := range tests {
		s := newSubServer(t, stream("data: x\n\n"), noContent)
		args := append(tt.args, "--retry", "1ms", s.URL)
		if _, _, err := sub(t, t.Context(), tt.stdin, args...); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		// The body is sent again on the reconnection.
		for i, r := range s.requests() {
			if r.Method != tt.wantMethod || s.body[i] != tt.wantBody {
				t.Errorf("%q: request %d = %s %q, want %s %q", tt.args, i, r.Method, s.body[i], tt.wantMethod, tt.wantBody)
			}
		}
	}
}

func TestSubTopics(t *testing.T) {
	tests := []struct {
		url       string
		wantPath  string
		wantQuery string
	}{
		{"", "/.well-known/mercure", "topic=a&topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D"},
		{"/", "/.well-known/mercure", "topic=a&topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D"},
		{"/hub?x=1", "/hub", "topic=a&topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D&x=1"},
	}
	for _, tt := range tests {
		s := newSubServer(t, noContent)
		_, _, err := sub(t, t.Context(), "", "--hub", s.URL+tt.url, "--topic", "a", "--topic", "https://example.com/books/{id}")
		if err != nil {
			t.Fatal(err)
		}
		r := s.requests()[0]
		if r.URL.Path != tt.wantPath || r.URL.RawQuery != tt.wantQuery {
			t.Errorf("--hub %q: requested %s?%s, want %s?%s", tt.url, r.URL.Path, r.URL.RawQuery, tt.wantPath, tt.wantQuery)
		}
	}
}

func TestSubFatalErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"401", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(401)
			io.WriteString(w, "\nmissing token\nsecond line")
		}, "the server answered 401 Unauthorized: missing token"},
		{"500 binary body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(500)
			io.WriteString(w, "\x00\x01")
		}, "the server answered 500 Internal Server Error"},
		{"wrong Content-Type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
		}, "the server answered with application/json, not an event stream (text/event-stream); " +
			"to watch a hub's topics, give them with --topic: herald sub --topic TOPIC {URL}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSubServer(t, tt.handler)
			stdout, _, err := sub(t, t.Context(), "", "--retry", "1ms", s.URL)
			if err == nil {
				t.Fatal("err = nil, want a fatal error")
			}
			if want := "sub: " + s.URL + ": " + strings.ReplaceAll(tt.want, "{URL}", s.URL); err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
			if exitCode(err) != 1 {
				t.Errorf("exit code %d, want 1", exitCode(err))
			}
			if stdout != "" || len(s.requests()) != 1 {
				t.Errorf("stdout %q after %d requests, want nothing after 1", stdout, len(s.requests()))
			}
		})
	}
}

// TestSubConnectionRefused: a refused connection is transient: the command
// keeps trying, says so, and gives up only with --max-retries.
func TestSubConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String() + "/"
	ln.Close()

	_, stderr, err := sub(t, t.Context(), "", "--retry", "1ms", "--max-retries", "2", addr)
	if err == nil || !strings.Contains(err.Error(), "gave up reconnecting after 3 failed attempts in a row") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want giving up after connection refused", err)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit code %d, want 1", exitCode(err))
	}
	if n := strings.Count(stderr, "connection refused; reconnecting in"); n != 2 {
		t.Errorf("stderr has %d reconnection messages, want 2:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "(2 failures in a row)") {
		t.Errorf("stderr does not count failures:\n%s", stderr)
	}
}

func TestSubCtrlCWhileReconnecting(t *testing.T) {
	s := newSubServer(t, stream("data: x\n\n"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr bytes.Buffer
	// Cancel when the command announces its reconnection wait of an hour.
	err := runSub(ctx, []string{"--retry", "1h", s.URL}, strings.NewReader(""), &stdout, writerFunc(func(p []byte) (int, error) {
		if strings.Contains(string(p), "reconnecting in 1h") {
			cancel()
		}
		return stderr.Write(p)
	}))
	if err != nil {
		t.Errorf("err = %v, want nil (exit 0)", err)
	}
	if !strings.Contains(stdout.String(), "  x\n") || !strings.HasSuffix(stderr.String(), " closed\n") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestSubUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "sub: missing URL (give it as argument or with --hub)"},
		{[]string{"http://a/", "http://b/"}, `sub: want one URL, got ["http://a/" "http://b/"]`},
		{[]string{"--hub", "http://a/", "http://b/"}, `sub: two URLs: "http://b/" and --hub "http://a/"`},
		{[]string{"ftp://a/"}, `sub: invalid URL "ftp://a/": want an http or https URL`},
		{[]string{"localhost:8080"}, `sub: invalid URL "localhost:8080": want an http or https URL`},
		{[]string{"http:///path"}, `sub: invalid URL "http:///path": no host`},
		{[]string{"http://a/%zz"}, `sub: invalid URL: parse "http://a/%zz": invalid URL escape "%zz"`},
		{[]string{"-H", "NoColon", "http://a/"}, `sub: -H "NoColon": want 'Name: value'`},
		{[]string{"-H", "Bad Name: v", "http://a/"}, `sub: -H "Bad Name: v": want 'Name: value'`},
		{[]string{"--retry", "-1s", "http://a/"}, "sub: --retry must not be negative"},
		{[]string{"--read-timeout", "-1s", "http://a/"}, "sub: --read-timeout must not be negative"},
		{[]string{"--max-retries", "-1", "http://a/"}, "sub: --max-retries must not be negative"},
		{[]string{"--body", "@/nonexistent/file", "http://a/"}, "sub: --body: open /nonexistent/file: no such file or directory"},
		{[]string{"-X", "BAD METHOD", "http://a/"}, `sub: net/http: invalid method "BAD METHOD"`},
		{[]string{"--no-such-flag", "http://a/"}, "flag provided but not defined: -no-such-flag"},
	}
	for _, tt := range tests {
		stdout, _, err := sub(t, t.Context(), "", tt.args...)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: err = %v, want %q", tt.args, err, tt.want)
		}
		if exitCode(err) != 2 {
			t.Errorf("%q: exit code %d, want 2", tt.args, exitCode(err))
		}
		if stdout != "" {
			t.Errorf("%q: stdout = %q", tt.args, stdout)
		}
	}
}

func TestSubHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"sub", "-h"}, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Errorf("err = %v, want nil (exit 0)", err)
	}
	for _, want := range []string{"Usage: herald sub [flags] URL", "-json", "-topic", "-last-event-id", "-token", "-read-timeout", "-header",
		"-comments", "-retry-transient", "429, 502, 503 or 504", "Retry-After"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, stdout.String())
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q, want nothing", stderr.String())
	}
}

// TestSubThroughRun runs the command the way main does.
func TestSubThroughRun(t *testing.T) {
	s := newSubServer(t, stream("data: via run\n\n"), noContent)
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"sub", "--json", "--retry", "1ms", s.URL}, strings.NewReader(""), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := `{"event":"message","data":"via run","id":""}` + "\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
}

// TestSubFatalStatusWithEndlessBody: a refused response whose body never
// ends (here a 201 that streams) is reported and the command exits at once,
// closing the connection.
func TestSubFatalStatusWithEndlessBody(t *testing.T) {
	gone := make(chan struct{})
	s := newSubServer(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(gone)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "data: x\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stdout, _, err := sub(t, ctx, "", s.URL)
	if want := "sub: " + s.URL + ": the server answered 201 Created"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if exitCode(err) != 1 || stdout != "" {
		t.Errorf("exit code %d, stdout %q", exitCode(err), stdout)
	}
	select {
	case <-gone:
	case <-ctx.Done():
		t.Fatal("the server still holds the request")
	}
}

// badGateway answers 502 as nginx does while the hub behind it restarts.
func badGateway(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>\n")
}

// TestSubRetriesTransientStatus: by default, herald sub rides out 502, 503
// and 504 (a hub restarting behind a proxy), saying so, and resumes with
// the last event ID; --retry-transient=false exits at the first, as a
// browser would.
func TestSubRetriesTransientStatus(t *testing.T) {
	s := newSubServer(t,
		stream("id: 1\ndata: before\n\n"),
		badGateway,
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		},
		stream("data: after\n\n"),
		noContent)
	stdout, stderr, err := sub(t, t.Context(), "", "--json", "--retry", "1ms", s.URL)
	if err != nil {
		t.Fatalf("err = %v; stderr:\n%s", err, stderr)
	}
	if want := `{"event":"message","data":"before","id":"1"}` + "\n" + `{"event":"message","data":"after","id":"1"}` + "\n"; stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	for _, msg := range []string{
		"the server answered 502 Bad Gateway: <html>; reconnecting in",
		"the server answered 503 Service Unavailable; reconnecting in",
		"(2 failures in a row)",
	} {
		if !strings.Contains(stderr, msg) {
			t.Errorf("stderr lacks %q:\n%s", msg, stderr)
		}
	}
	for i, r := range s.requests()[1:4] {
		if got := r.Header.Get("Last-Event-ID"); got != "1" {
			t.Errorf("request %d Last-Event-ID = %q, want 1", i+2, got)
		}
	}

	s = newSubServer(t, badGateway, stream("data: never\n\n"))
	_, _, err = sub(t, t.Context(), "", "--retry-transient=false", "--retry", "1ms", s.URL)
	if want := "sub: " + s.URL + ": the server answered 502 Bad Gateway: <html>"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestSubGivesUpOnTransientStatus: --max-retries bounds the retries of a
// transient status too, and the error names it once.
func TestSubGivesUpOnTransientStatus(t *testing.T) {
	s := newSubServer(t, badGateway)
	_, _, err := sub(t, t.Context(), "", "--retry", "1ms", "--max-retries", "2", s.URL)
	want := "sub: " + s.URL + ": gave up reconnecting after 3 failed attempts in a row: server responded 502 Bad Gateway"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestSubComments: --comments shows the comment lines (heartbeats) in
// order with the events, as text or JSON; without it they are not shown.
func TestSubComments(t *testing.T) {
	body := ": hello\n:\ndata: a\n\n: heartbeat \x1b[31m\n"
	ts := `\d\d:\d\d:\d\d\.\d\d\d`
	tests := []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"--comments"}, regexp.MustCompile(`^` + ts + ` comment: hello\n` + ts + ` comment\n` + ts + ` event=message\n  a\n` + ts + ` comment: heartbeat \\x1b\[31m\n$`)},
		{[]string{"--comments", "--json"}, regexp.MustCompile(`^\{"comment":"hello"\}\n\{"comment":""\}\n\{"event":"message","data":"a","id":""\}\n\{"comment":"heartbeat \\u001b\[31m"\}\n$`)},
		{nil, regexp.MustCompile(`^` + ts + ` event=message\n  a\n$`)},
	}
	for _, tt := range tests {
		s := newSubServer(t, stream(body), noContent)
		stdout, _, err := sub(t, t.Context(), "", append(tt.args, "--retry", "1ms", s.URL)...)
		if err != nil {
			t.Fatal(err)
		}
		if !tt.want.MatchString(stdout) {
			t.Errorf("%q: stdout:\n%s\nwant to match:\n%s", tt.args, stdout, tt.want)
		}
	}
}

// TestSubRetryZero: --retry 0 reconnects at once.
func TestSubRetryZero(t *testing.T) {
	s := newSubServer(t, stream("data: a\n\n"), noContent)
	_, stderr, err := sub(t, t.Context(), "", "--retry", "0", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "server closed the stream; reconnecting in 0s") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

// subHubKey signs the tokens of the hubs these tests run.
const subHubKey = "sub test key"

// TestSubNotAStreamSuggestsTopic: the hub's base URL answers its demo page;
// herald sub says what it got and how to watch topics, and the suggestion
// works as written.
func TestSubNotAStreamSuggestsTopic(t *testing.T) {
	base, _ := runServeCommand(t, "--jwt-key="+subHubKey)
	_, _, err := sub(t, t.Context(), "", base)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("err = %v, want a failure (exit code 1)", err)
	}
	want := "sub: " + base + ": the server answered with a web page (text/html), not an event stream; " +
		"to watch a hub's topics, give them with --topic: herald sub --topic TOPIC " + base
	if err.Error() != want {
		t.Fatalf("err = %q\nwant %q", err, want)
	}
	suggestion := strings.Fields("herald " + strings.SplitN(err.Error(), ": herald ", 2)[1])
	suggestion[3] = "hello" // TOPIC
	checkSubReceives(t, base, suggestion)

	// A URL that is not there: the same suggestion.
	_, _, err = sub(t, t.Context(), "", base+"/events")
	want = "sub: " + base + "/events: the server answered 404 Not Found: 404 page not found; " +
		"to watch a hub's topics, give them with --topic: herald sub --topic TOPIC " + base
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %q", err, want)
	}
}

// TestSubHelpExamplesWork runs the examples of herald sub --help that name
// a local hub, as written (with $TOKEN set), against a real hub.
func TestSubHelpExamplesWork(t *testing.T) {
	base, _ := runServeCommand(t, "--jwt-key="+subHubKey)
	env := map[string]string{"TOKEN": serveToken(t, subHubKey, auth.Grant{Subscribe: []string{"*"}})}
	n := 0
	for line := range strings.Lines(subUsage) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "herald sub ") || !strings.Contains(line, "http://localhost:8080") {
			continue
		}
		n++
		checkSubReceives(t, base, shellWords(t, strings.ReplaceAll(line, "http://localhost:8080", base), env))
	}
	if n < 2 {
		t.Errorf("%d examples name http://localhost:8080, want at least 2:\n%s", n, subUsage)
	}
}

// checkSubReceives runs args ("herald", "sub", ...) and checks that the
// command connects to the hub at base and prints an update published there
// to the topics hello and https://example.com/books/1.
func checkSubReceives(t *testing.T, base string, args []string) {
	t.Helper()
	if len(args) < 2 || args[0] != "herald" || args[1] != "sub" {
		t.Fatalf("not a herald sub command: %q", args)
	}
	ctx, cancel := context.WithTimeout(t.Context(), serveWait)
	defer cancel()
	connected, received := make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	stderr := writerFunc(func(p []byte) (int, error) {
		if strings.Contains(string(p), "connected (200 OK)") {
			once1.Do(func() { close(connected) })
		}
		return len(p), nil
	})
	var stdout hubtest.SyncBuffer
	out := writerFunc(func(p []byte) (int, error) {
		stdout.Write(p)
		if strings.Contains(string(p), "it works") {
			once2.Do(func() { close(received) })
		}
		return len(p), nil
	})
	done := make(chan error, 1)
	go func() { done <- run(ctx, args[1:], strings.NewReader(""), out, stderr) }()
	for _, step := range []struct {
		what string
		ch   chan struct{}
	}{{"connect", connected}, {"print the update", received}} {
		select {
		case <-step.ch:
		case err := <-done:
			t.Fatalf("%q ended before it could %s: %v; stdout %q", args, step.what, err, stdout.String())
		case <-ctx.Done():
			t.Fatalf("%q did not %s within %v; stdout %q", args, step.what, serveWait, stdout.String())
		}
		if step.ch == connected {
			form := url.Values{"topic": {"hello", "https://example.com/books/1"}, "data": {"it works"}}
			if code, body := servePublish(t, base, serveToken(t, subHubKey, auth.Grant{Publish: []string{"*"}}), form); code != http.StatusOK {
				t.Fatalf("publish: %d %s", code, body)
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("%q after Ctrl-C: %v", args, err)
	}
}

// shellWords splits a command line as a POSIX shell does for the simple
// lines of a usage text: words, 'single-quoted' and "double-quoted" strings,
// with $NAME expanded from env in the latter and in bare words.
func shellWords(t *testing.T, line string, env map[string]string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	in := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == ' ':
			if in {
				words, in = append(words, w.String()), false
				w.Reset()
			}
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				t.Fatalf("unterminated quote in %q", line)
			}
			s := line[i+1 : i+1+j]
			if c == '"' {
				s = os.Expand(s, func(k string) string { return env[k] })
			}
			w.WriteString(s)
			in, i = true, i+1+j
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || 'A' <= line[j] && line[j] <= 'Z') {
				j++
			}
			w.WriteString(env[line[i+1:j]])
			in, i = true, j-1
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}
