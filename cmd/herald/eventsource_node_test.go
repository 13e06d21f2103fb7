package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

// nodeLine is one line the Node subscriber (testdata/eventsource) writes.
type nodeLine struct {
	Kind   string `json:"kind"`
	Status int    `json:"status"`
	Sent   string `json:"sent"`   // the Last-Event-ID request header it sent
	Got    string `json:"got"`    // the Mercure-Last-Event-ID response header
	Legacy string `json:"legacy"` // the Last-Event-ID response header
	Type   string `json:"type"`
	ID     string `json:"id"`
	Data   string `json:"data"`
}

// nodeSubscriber runs testdata/eventsource/subscriber.mjs, with its
// dependencies installed from its lockfile (npm ci) in a temporary copy.
// It skips the test when Node is missing, unless $CI is set.
func nodeSubscriber(t *testing.T, subscribeURL, token string) (lines <-chan nodeLine, stdin io.Writer) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; CI must run the Node eventsource test")
		}
		t.Skip("node is not installed")
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "subscriber.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "eventsource", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	npm := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	npm.Dir = dir
	if out, err := npm.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	cmd := exec.Command(node, "subscriber.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HUB_SUBSCRIBE_URL="+subscribeURL, "HUB_TOKEN="+token)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan nodeLine, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var l nodeLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("the Node subscriber wrote %q: %v", sc.Text(), err)
				continue
			}
			ch <- l
		}
	}()
	t.Cleanup(func() {
		io.WriteString(in, "exit\n")
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(serveWait):
			cmd.Process.Kill() // by pid: the process this test started
			<-done
		}
	})
	return ch, in
}

// TestNodeEventSourceDraft08: Node's eventsource package (the EventSource
// of server-side JavaScript) is a draft-08 subscriber of herald serve: it
// subscribes with match_urlpattern= and an access token in the
// Authorization header, receives public and private updates of both
// generations' publishers, resumes with the last_event_id parameter and,
// when the hub restarts, reconnects by itself with Last-Event-ID, and each
// time the hub names in Mercure-Last-Event-ID where the stream starts, and
// nothing is lost or received twice.
func TestNodeEventSourceDraft08(t *testing.T) {
	addr := freeLoopbackAddr(t)
	args := []string{"--addr=" + addr, "--data-dir=" + t.TempDir(), "--jwt-key=" + serveTestKey, "--issuer=" + issuer08 + "=" + issuerKey08, "--shutdown-retry=200ms"}
	h := serveHub(t, args...)
	subscribeURL := h.base + mercure.Path + "?match_urlpattern=" + url.QueryEscape("https://example.com/books/:id")
	tok := accessToken(t, h.hubURL08(), time.Hour, subscribe08(nil, pattern08("https://example.com/books/:id")))
	lines, stdin := nodeSubscriber(t, subscribeURL, tok)

	next := func(kinds ...string) nodeLine {
		t.Helper()
		deadline := time.After(3 * serveWait)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("the Node subscriber exited")
				}
				for _, k := range kinds {
					if l.Kind == k {
						return l
					}
				}
				if l.Kind == "event" {
					t.Fatalf("unexpected event %+v while waiting for %q", l, kinds)
				}
			case <-deadline:
				t.Fatalf("the Node subscriber did not report %q", kinds)
			}
		}
	}
	expectResponse := func(sent, got string) {
		t.Helper()
		r := next("response")
		if r.Status != 200 || r.Sent != sent || r.Got != got || r.Legacy != "" {
			t.Errorf("response %+v, want 200, Last-Event-ID sent %q, Mercure-Last-Event-ID %q and no Last-Event-ID", r, sent, got)
		}
		next("open")
	}
	pub07 := serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})
	pub08 := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("*")))
	publish := func(tok, topic, data string, private bool) string {
		t.Helper()
		form := url.Values{"topic": {topic}, "data": {data}}
		if private {
			form.Set("private", "on")
		}
		resp, id := publishWith(t, h.base, bearer(tok), form)
		if resp.StatusCode != 200 {
			t.Fatalf("publish %q: %s %q", data, resp.Status, id)
		}
		return id
	}
	expectEvents := func(want ...[2]string) {
		t.Helper()
		for _, w := range want {
			if ev := next("event"); ev.ID != w[0] || ev.Data != w[1] || ev.Type != "message" {
				t.Fatalf("received %+v, want id %q data %q", ev, w[0], w[1])
			}
		}
	}

	expectResponse("", "earliest")
	id1 := publish(pub07, "https://example.com/books/1", "public, by 07", false)
	id2 := publish(pub08, "https://example.com/books/2", "private, by 08", true)
	publish(pub08, "https://example.com/authors/1", "another topic", false)
	expectEvents([2]string{id1, "public, by 07"}, [2]string{id2, "private, by 08"})

	// Closed, then reopened with last_event_id: what was published meanwhile
	// is replayed.
	io.WriteString(stdin, "close\n")
	if c := next("closed"); c.ID != id2 {
		t.Fatalf("closed after %q, want %q", c.ID, id2)
	}
	id3 := publish(pub07, "https://example.com/books/3", "while closed, private, by 07", true)
	id4 := publish(pub08, "https://example.com/books/4", "while closed, by 08", false)
	io.WriteString(stdin, "reopen\n")
	expectResponse("", id2)
	expectEvents([2]string{id3, "while closed, private, by 07"}, [2]string{id4, "while closed, by 08"})

	// The hub restarts: the client reconnects by itself with Last-Event-ID.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	next("error")
	h = serveHub(t, args...)
	for {
		r := next("response", "error")
		if r.Kind == "response" {
			if r.Status != 200 || r.Sent != id4 || r.Got != id4 {
				t.Fatalf("reconnection: %+v, want 200 with Last-Event-ID and Mercure-Last-Event-ID %q", r, id4)
			}
			break
		}
	}
	next("open")
	id5 := publish(pub08, "https://example.com/books/5", "after the restart", false)
	expectEvents([2]string{id5, "after the restart"})
}
