package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// testVersion is the version the test binary is stamped with (-ldflags -X).
const testVersion = "v9.8.7-test"

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// heraldBinary builds the herald command once per test run, the way the
// deployment recipes do (docs/deploy): static (CGO_ENABLED=0), with
// -trimpath and the version stamped with -ldflags "-X main.version=…". It
// returns the binary's path.
func heraldBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "herald-test-bin-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "herald")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion, "-o", built.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.path
}

// runBinary runs the built herald with args and returns what it printed and
// its exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := heraldBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir() // nothing it might create lands in the source tree
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("herald %q: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestHelpGoesToStdout: --help (and -h, help) prints the usage on standard
// output and exits 0, for herald and each of its commands, so that
// `herald serve --help | less` works.
func TestHelpGoesToStdout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // in the usage
	}{
		{[]string{"--help"}, "herald serve"},
		{[]string{"-h"}, "herald serve"},
		{[]string{"help"}, "herald serve"},
		{[]string{"serve", "--help"}, "-store"},
		{[]string{"serve", "-h"}, "-store"},
		{[]string{"bench", "--help"}, "-scenario"},
		{[]string{"pub", "--help"}, "-topic"},
		{[]string{"sub", "--help"}, "-retry-transient"},
		{[]string{"sub", "-h"}, "-comments"},
	} {
		stdout, stderr, code := runBinary(t, tc.args...)
		if code != 0 || !strings.Contains(stdout, tc.want) || stderr != "" {
			t.Errorf("herald %q: exit %d, stdout %.80q…, stderr %.200q; want exit 0, the usage (with %q) on stdout and nothing on stderr",
				tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// TestVersion: `herald version` and `herald --version` say which build
// this is: its version, its VCS revision and the Go that built it.
func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, stderr, code := runBinary(t, args...)
		if code != 0 || stderr != "" {
			t.Errorf("herald %q: exit %d, stderr %q", args, code, stderr)
		}
		if !strings.HasPrefix(stdout, "herald "+testVersion+"\n") {
			t.Errorf("herald %q: %q, want it to start with %q", args, stdout, "herald "+testVersion)
		}
		if !strings.Contains(stdout, "\ngo: go1.") {
			t.Errorf("herald %q: %q names no Go version", args, stdout)
		}
		// go build stamps the revision when it can (a git clone, not a
		// worktree; not with -buildvcs=false): then herald shows it.
		if rev := buildSetting(t, heraldBinary(t), "vcs.revision"); rev != "" && !strings.Contains(stdout, "\nrevision: "+rev) {
			t.Errorf("herald %q: %q does not name the VCS revision %s", args, stdout, rev)
		}
	}
}

// buildSetting returns the build setting key recorded in the binary at
// path ("" when there is none).
func buildSetting(t *testing.T, path, key string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// TestDescribeBuild: what `herald version` says for each kind of build.
func TestDescribeBuild(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/herald-sse/herald", Version: "v0.0.0-20261121165200-ba91a83c0ffe+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "ba91a83c0ffee0ddba11ba91a83c0ffee0ddba11"},
			{Key: "vcs.time", Value: "2026-11-21T16:52:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	goLine := "go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, tc := range []struct {
		name    string
		bi      *debug.BuildInfo
		stamped string
		want    string
	}{
		{"go build in a checkout", vcs, "", "herald v0.0.0-20261121165200-ba91a83c0ffe+dirty\nrevision: ba91a83c0ffee0ddba11ba91a83c0ffee0ddba11 (2026-11-21T16:52:00Z, with uncommitted changes)\n" + goLine},
		{"stamped release", vcs, "v1.2.3", "herald v1.2.3\nrevision: ba91a83c0ffee0ddba11ba91a83c0ffee0ddba11 (2026-11-21T16:52:00Z, with uncommitted changes)\n" + goLine},
		{"go install module@version", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "", "herald v1.4.0\n" + goLine},
		{"no build information", nil, "", "herald (devel)\n" + goLine},
	} {
		if got := describeBuild(tc.bi, tc.stamped); got != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

// TestWrongFlag: a wrong flag prints its error once, then the command's
// usage, and exits 2; nothing is printed twice.
func TestWrongFlag(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "bench", "pub"} {
		stdout, stderr, code := runBinary(t, cmd, "--no-such-flag")
		if code != 2 || stdout != "" {
			t.Errorf("herald %s --no-such-flag: exit %d, stdout %q; want exit 2 and nothing on stdout", cmd, code, stdout)
		}
		if n := strings.Count(stderr, "no-such-flag"); n != 1 {
			t.Errorf("herald %s --no-such-flag: the flag is named %d times in:\n%s", cmd, n, stderr)
		}
		if !strings.HasPrefix(stderr, "herald: ") || !strings.Contains(stderr, "Usage: herald "+cmd) {
			t.Errorf("herald %s --no-such-flag: stderr does not start with the error then give the usage:\n%s", cmd, stderr)
		}
		if n := strings.Count(stderr, "Usage:"); n != 1 {
			t.Errorf("herald %s --no-such-flag: %d usages in:\n%s", cmd, n, stderr)
		}
	}
	stdout, stderr, code := runBinary(t, "frobnicate")
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, `herald: unknown command "frobnicate"`) || strings.Count(stderr, "frobnicate") != 1 {
		t.Errorf("herald frobnicate: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// TestOnePrefix: an error message names the program once, even when it
// comes from a layer whose errors carry the module's "herald: " prefix.
func TestOnePrefix(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--addr=127.0.0.1:0", "--jwt-alg=none", "--jwt-key=k", "--store=memory:"},
		{"bench", "--jwt-key=@/nonexistent/key"},
	} {
		_, stderr, code := runBinary(t, args...)
		if code != 2 || strings.Count(stderr, "herald:") != 1 || !strings.HasPrefix(stderr, "herald: ") {
			t.Errorf("herald %q: exit %d, stderr:\n%s\nwant exit 2 and one \"herald:\" prefix", args, code, stderr)
		}
	}
}

// TestNoIssueNumbers: what users read (the commands' help, the README,
// BENCHMARKS.md) does not send them to the project's issue tracker to make
// sense of it.
func TestNoIssueNumbers(t *testing.T) {
	t.Parallel()
	issue := regexp.MustCompile(`(?i)\bissues? #?\d+`)
	texts := map[string]string{}
	for _, cmd := range []string{"serve", "pub", "sub", "bench"} {
		stdout, stderr, _ := runBinary(t, cmd, "--help")
		texts["herald "+cmd+" --help"] = stdout + stderr
	}
	for _, f := range []string{"../../README.md", "../../BENCHMARKS.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[f] = string(b)
	}
	for name, text := range texts {
		if m := issue.FindString(text); m != "" {
			t.Errorf("%s refers to %q", name, m)
		}
	}
}
