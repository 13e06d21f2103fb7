package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/memory"
)

const pubTestKey = "pub test secret"

// pubHub is a hub behind an httptest server, verifying tokens with
// pubTestKey.
func pubHub(t *testing.T) string {
	t.Helper()
	st := memory.New(memory.Options{})
	h := hub.New(st, hub.Options{Logger: slog.New(slog.DiscardHandler)})
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{[]byte(pubTestKey)}})
	if err != nil {
		t.Fatal(err)
	}
	mh, err := mercure.New(mercure.Config{Hub: h, Publishers: v, Subscribers: v, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(mercure.Path, mh)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), serveWait)
		defer cancel()
		_ = h.Close(ctx)
		ts.Close()
		_ = st.Close()
	})
	return ts.URL
}

// pub runs `herald pub args...` through run and returns what it printed.
func pub(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut hubtest.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), serveWait)
	defer cancel()
	err = run(ctx, append([]string{"pub"}, args...), stdin, &out, &errOut)
	return out.String(), errOut.String(), err
}

// failingReader fails the test if it is read: the data was given as a flag.
type failingReader struct{ t *testing.T }

func (r failingReader) Read([]byte) (int, error) {
	r.t.Error("pub read standard input although --data was given")
	return 0, io.EOF
}

// TestPub: `herald pub` publishes each field it is given and prints the id,
// which subscribers receive.
func TestPub(t *testing.T) {
	t.Parallel()
	base := pubHub(t)
	reader := serveToken(t, pubTestKey, auth.Grant{Subscribe: []string{"*"}})
	s := serveSubscribe(t, base, "topic=t&topic=https://example.com/{x}", http.Header{"Authorization": {"Bearer " + reader}})
	anon := serveSubscribe(t, base, "topic=t", nil)

	for _, tc := range []struct {
		name                  string
		stdin                 io.Reader
		args                  []string
		wantID, wantType      string
		wantData              string
		wantRetry             time.Duration
		private, checkPrinted bool
	}{
		{name: "data flag", stdin: failingReader{t}, args: []string{"--hub", base, "--topic", "t", "--data", "x", "--jwt-key", pubTestKey}, wantData: "x"},
		{name: "full hub URL", stdin: failingReader{t}, args: []string{"--hub", base + mercure.Path, "--topic", "t", "--data", "y", "--jwt-key", pubTestKey}, wantData: "y"},
		{name: "stdin", stdin: strings.NewReader("line one\nline two"), args: []string{"--hub", base, "--topic", "t", "--jwt-key", pubTestKey}, wantData: "line one\nline two"},
		{name: "empty data flag", stdin: failingReader{t}, args: []string{"--hub", base, "--topic", "t", "--data", "", "--jwt-key", pubTestKey}, wantData: ""},
		{name: "fields", stdin: failingReader{t}, args: []string{"--hub", base, "--topic", "https://example.com/1", "--topic", "t", "--data", "z", "--type", "kind", "--id", "my-id", "--retry", "3s", "--jwt-key", pubTestKey},
			wantID: "my-id", wantType: "kind", wantData: "z", wantRetry: 3 * time.Second},
		{name: "private", stdin: failingReader{t}, args: []string{"--hub", base, "--topic", "t", "--data", "secret", "--private", "--jwt-key", pubTestKey}, wantData: "secret", private: true},
		{name: "token", stdin: failingReader{t}, args: []string{"--hub", base, "--topic", "t", "--data", "tok", "--token", serveToken(t, pubTestKey, auth.Grant{Publish: []string{"t"}})}, wantData: "tok"},
	} {
		out, errOut, err := pub(t, tc.stdin, tc.args...)
		if err != nil {
			t.Fatalf("%s: pub %q: %v (%s)", tc.name, tc.args, err, errOut)
		}
		id := strings.TrimSuffix(out, "\n")
		if id == "" || strings.Contains(id, "\n") || (tc.wantID != "" && id != tc.wantID) {
			t.Fatalf("%s: printed %q, want the id and a newline", tc.name, out)
		}
		ev := s.next(t)
		wantType := tc.wantType
		if wantType == "" {
			wantType = "message"
		}
		if ev.ID != id || ev.Type != wantType || ev.Data != tc.wantData || ev.Retry != tc.wantRetry {
			t.Errorf("%s: received %+v, want id %q type %q data %q retry %v", tc.name, ev, id, wantType, tc.wantData, tc.wantRetry)
		}
		if !tc.private {
			if ev := anon.next(t); ev.ID != id {
				t.Errorf("%s: anonymous subscriber received %+v, want %q", tc.name, ev, id)
			}
		}
	}
}

// TestPubErrors: calling pub wrongly is a usage error (exit code 2) that
// says what is wrong; a refusal from the hub is an error quoting the hub.
func TestPubErrors(t *testing.T) {
	t.Parallel()
	base := pubHub(t)
	for _, tc := range []struct {
		name    string
		args    []string
		usage   bool
		wantMsg string
	}{
		{"no topic", []string{"--hub", base, "--data", "x", "--jwt-key", pubTestKey}, true, "--topic"},
		{"not an http URL", []string{"--hub", "ftp://example.com", "--topic", "t", "--data", "x"}, true, "http"},
		{"extra arguments", []string{"--hub", base, "--topic", "t", "--data", "x", "extra"}, true, "extra"},
		{"unknown flag", []string{"--hub", base, "--topic", "t", "--nope"}, true, "nope"},
		{"wrong key", []string{"--hub", base, "--topic", "t", "--data", "x", "--jwt-key", "wrong key"}, false, "401"},
		{"no token", []string{"--hub", base, "--topic", "t", "--data", "x"}, false, "401"},
		{"topic not allowed", []string{"--hub", base, "--topic", "t", "--data", "x", "--token", serveToken(t, pubTestKey, auth.Grant{Publish: []string{"other"}})}, false, "403"},
		{"bad update", []string{"--hub", base, "--topic", "t", "--data", "x", "--id", "#x", "--jwt-key", pubTestKey}, false, "400"},
		{"hub down", []string{"--hub", "http://127.0.0.1:1", "--topic", "t", "--data", "x", "--jwt-key", pubTestKey}, false, "pub"},
	} {
		out, errOut, err := pub(t, strings.NewReader(""), tc.args...)
		if err == nil {
			t.Errorf("%s: no error (printed %q)", tc.name, out)
			continue
		}
		var ue usageError
		if isUsage := errors.As(err, &ue); isUsage != tc.usage || (exitCode(err) == 2) != tc.usage {
			t.Errorf("%s: %v: usage error %v (exit code %d), want %v", tc.name, err, isUsage, exitCode(err), tc.usage)
		}
		if !strings.Contains(err.Error()+errOut, tc.wantMsg) {
			t.Errorf("%s: error %q (stderr %q) does not mention %q", tc.name, err, errOut, tc.wantMsg)
		}
		if out != "" {
			t.Errorf("%s: printed %q on failure", tc.name, out)
		}
	}
}

// TestPubEnv: pub's flags can be set with HERALD_<NAME> too.
func TestPubEnv(t *testing.T) {
	base := pubHub(t)
	t.Setenv("HERALD_HUB", base)
	t.Setenv("HERALD_JWT_KEY", pubTestKey)
	s := serveSubscribe(t, base, "topic=t", nil)
	out, errOut, err := pub(t, strings.NewReader(""), "--topic", "t", "--data", "from env")
	if err != nil {
		t.Fatalf("pub: %v (%s)", err, errOut)
	}
	if ev := s.next(t); ev.ID != strings.TrimSpace(out) || ev.Data != "from env" {
		t.Errorf("received %+v, want %q", ev, out)
	}
}

// TestPubData: data from standard input loses exactly one trailing line
// break (LF or CRLF), as a shell's command substitution does, so that
// `echo x | herald pub` sends "x"; --data and --data-file send their bytes
// exactly.
func TestPubData(t *testing.T) {
	t.Parallel()
	base := pubHub(t)
	s := serveSubscribe(t, base, "topic=t", nil)
	file := filepath.Join(t.TempDir(), "data")
	const exact = "line one\r\nline two\n\n"
	if err := os.WriteFile(file, []byte(exact), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stdin io.Reader
		args  []string
		want  string
	}{
		{strings.NewReader("x\n"), nil, "x"},
		{strings.NewReader("x\r\n"), nil, "x"},
		{strings.NewReader("x\n\n"), nil, "x\n"},
		{strings.NewReader("x\r\n\r\n"), nil, "x\r\n"},
		{strings.NewReader("x"), nil, "x"},
		{strings.NewReader("\n"), nil, ""},
		{strings.NewReader("x\r"), nil, "x\r"},
		{failingReader{t}, []string{"--data", "x\n"}, "x\n"},
		{failingReader{t}, []string{"--data-file", file}, exact},
	} {
		args := append([]string{"--hub", base, "--topic", "t", "--jwt-key", pubTestKey}, tc.args...)
		if _, errOut, err := pub(t, tc.stdin, args...); err != nil {
			t.Fatalf("pub %q: %v (%s)", args, err, errOut)
		}
		// The hub normalises line breaks in data to LF, as SSE does.
		want := strings.ReplaceAll(strings.ReplaceAll(tc.want, "\r\n", "\n"), "\r", "\n")
		if ev := s.next(t); ev.Data != want {
			t.Errorf("pub %q: received %q, want %q", tc.args, ev.Data, want)
		}
	}
}

// TestPubDataFileRawBytes: --data-file sends the file's bytes as they are,
// checked on the form the hub receives.
func TestPubDataFileRawBytes(t *testing.T) {
	var got []byte
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got = []byte(r.PostForm.Get("data"))
		io.WriteString(w, "urn:test:1")
	}))
	defer ts.Close()
	file := filepath.Join(t.TempDir(), "data")
	exact := []byte("a\r\nb\x00c\n")
	if err := os.WriteFile(file, exact, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--data-file", file}, {"--data-file=" + file}} {
		got = nil
		if out, _, err := pub(t, failingReader{t}, append([]string{"--hub", ts.URL, "--topic", "t"}, args...)...); err != nil || out != "urn:test:1\n" {
			t.Fatalf("pub %q: %q, %v", args, out, err)
		}
		if !bytes.Equal(got, exact) {
			t.Errorf("pub %q sent %q, want %q", args, got, exact)
		}
	}
}

// TestPubErrorsHaveOnePrefix: main prints "herald: " before an error; no
// error of pub starts another.
func TestPubErrorsHaveOnePrefix(t *testing.T) {
	t.Parallel()
	base := pubHub(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hub", base, "--topic", "t", "--data", "x", "--jwt-key", "@/nonexistent/key"},
			"pub: --jwt-key: reading key: open /nonexistent/key: no such file or directory"},
		{[]string{"--hub", base, "--topic", "t", "--data", "x", "--jwt-key", "k", "--jwt-alg", "XX"},
			`pub: signing a token: JWT algorithm "XX" is not supported`},
		{[]string{"--hub", base, "--topic", "t", "--data-file", "/nonexistent/data"},
			"pub: --data-file: open /nonexistent/data: no such file or directory"},
		{[]string{"--hub", base, "--topic", "t", "--data", "x", "--data-file", "/etc/hostname"},
			"pub: give the data with --data, --data-file or on standard input, not several"},
	} {
		_, _, err := pub(t, strings.NewReader(""), tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("pub %q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
