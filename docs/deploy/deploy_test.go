// Package deploy tests the deployment recipes of this folder with what this
// machine can run: the Containerfile's build command makes a static binary
// that serves from an empty root (as the image's scratch stage does), the
// systemd unit passes systemd-analyze verify, and the Kubernetes manifests
// decode strictly into the Kubernetes API types and hang together.
package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
)

// repoRoot is the repository's root, from this folder.
const repoRoot = "../.."

// testVersion is the version the build is stamped with.
const testVersion = "v0.0.0-deploy-test"

// containerfile returns the Containerfile's instructions, continuation
// lines joined, comments dropped.
func containerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// buildAsContainerfile runs the Containerfile's `go build` command (with
// VERSION set and the output redirected to dir) from the repository's root,
// and returns the binary's path.
func buildAsContainerfile(t *testing.T, dir string) string {
	t.Helper()
	var build string
	for _, ins := range containerfile(t) {
		if cmd, ok := strings.CutPrefix(ins, "RUN "); ok && strings.Contains(cmd, "go build") {
			build, _, _ = strings.Cut(cmd, " && ")
		}
	}
	if build == "" {
		t.Fatal("the Containerfile has no RUN … go build")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-o /out/herald", "./cmd/herald"} {
		if !strings.Contains(build, want) {
			t.Errorf("the Containerfile's build %q lacks %q", build, want)
		}
	}
	bin := filepath.Join(dir, "herald")
	build = strings.ReplaceAll(build, "/out/herald", bin)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "VERSION="+testVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	return bin
}

// TestContainerfile checks what can be checked of the image without a
// container engine: a build stage and an empty final stage, a non-root
// numeric user, the data under a volume owned by that user, the command in
// exec form. (No image is built here: that needs a registry.)
func TestContainerfile(t *testing.T) {
	t.Parallel()
	ins := containerfile(t)
	has := func(prefix string) string {
		for _, i := range ins {
			if strings.HasPrefix(i, prefix) {
				return i
			}
		}
		t.Errorf("the Containerfile has no %q", prefix)
		return ""
	}
	if !strings.HasPrefix(ins[0], "FROM ") || !strings.Contains(ins[0], " AS build") {
		t.Errorf("first instruction %q, want the build stage", ins[0])
	}
	var last string
	for _, i := range ins {
		if strings.HasPrefix(i, "FROM ") {
			last = i
		}
	}
	if last != "FROM scratch" {
		t.Errorf("final stage %q, want FROM scratch (a static binary needs nothing else)", last)
	}
	if u := has("USER "); !regexp.MustCompile(`^USER [1-9][0-9]*:[1-9][0-9]*$`).MatchString(u) {
		t.Errorf("%q: want a numeric, non-root user and group", u)
	}
	user := strings.TrimPrefix(has("USER "), "USER ")
	if c := has("COPY --from=build --chown="); !strings.Contains(c, "--chown="+user+" ") || !strings.HasSuffix(c, " /data") {
		t.Errorf("%q: want /data owned by %s", c, user)
	}
	if v := has("VOLUME "); v != "VOLUME /data" {
		t.Errorf("%q, want VOLUME /data", v)
	}
	if e := has("ENV "); !strings.Contains(e, "HERALD_DATA_DIR=/data") {
		t.Errorf("%q does not put the data in /data", e)
	}
	if e := has("ENTRYPOINT "); e != `ENTRYPOINT ["/herald", "serve"]` {
		t.Errorf("%q, want the exec form running /herald serve", e)
	}
}

// TestStaticBinaryInEmptyRoot: the Containerfile's build makes a static
// binary, stamped with its version, that serves from an empty root
// directory as the image's non-root user, as it does from the scratch
// image: it needs no file but itself.
func TestStaticBinaryInEmptyRoot(t *testing.T) {
	t.Parallel()
	prefix, asUser := rootCommand(t)
	bin := buildAsContainerfile(t, t.TempDir())

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not static", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs %v: not static", bin, libs)
	}
	f.Close()

	root := t.TempDir()
	copyFile(t, bin, filepath.Join(root, "herald"), 0o755)
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if asUser != "" {
		if err := os.Chown(filepath.Join(root, "data"), 65532, 65532); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	command := func(args ...string) *exec.Cmd {
		full := append(append(append([]string{}, prefix...), root, "/herald"), args...)
		return exec.Command(full[0], full[1:]...)
	}

	out, err := command("version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "herald "+testVersion+"\n") {
		t.Fatalf("herald version in an empty root: %v\n%s", err, out)
	}

	// Serve, as the image does: /data, the environment's address.
	cmd := command("serve", "--demo=false", "--log-format=json")
	cmd.Env = []string{"HERALD_ADDR=127.0.0.1:0", "HERALD_DATA_DIR=/data"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	base := make(chan string, 1)
	var logs bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			var rec struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "herald is listening" {
				base <- rec.URL
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by pid; a no-op once it exited
	})
	var hub string
	select {
	case hub = <-base:
	case err := <-exited:
		t.Fatalf("herald serve in an empty root exited: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("herald serve in an empty root did not listen within 30s")
	}

	resp, err := http.Get(hub + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	// It generated its development key in /data: sign with it and publish.
	key, err := auth.LoadKey("@" + filepath.Join(root, "data", "dev-jwt.key"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Sign("HS256", key, auth.Grant{Publish: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, hub+"/.well-known/mercure", strings.NewReader(url.Values{"topic": {"t"}, "data": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("publish: %v %v", resp, err)
	}
	resp.Body.Close()

	// SIGTERM: a clean stop, the history on disk.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("herald did not stop within 30s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(root, "data", "herald.db")); err != nil {
		t.Errorf("no history in /data: %v", err)
	}
}

// rootCommand returns the command prefix that runs a program in another
// root directory (the directory follows the prefix), and the user it runs
// as ("" for the caller's): chroot as the image's user when this test runs
// as root, else unshare in a user namespace; it skips the test when
// neither is allowed here.
func rootCommand(t *testing.T) (prefix []string, user string) {
	t.Helper()
	empty := t.TempDir()
	try := func(p ...string) bool {
		// A program that cannot exist in the empty root: "no such file"
		// means the root change itself worked.
		out, err := exec.Command(p[0], append(p[1:], empty, "/nonexistent")...).CombinedOutput()
		return err != nil && bytes.Contains(out, []byte("No such file"))
	}
	if os.Geteuid() == 0 {
		if p := []string{"chroot", "--userspec=65532:65532"}; try(p...) {
			return p, "65532:65532"
		}
	}
	if p := []string{"unshare", "--user", "--map-root-user", "--root"}; try(p...) {
		return p, ""
	}
	t.Skip("cannot run a program in another root here (chroot needs root; unshare needs user namespaces)")
	return nil, ""
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestSystemdUnit: herald.service passes systemd-analyze verify (with its
// ExecStart pointed at a real herald binary), and its stop timeout leaves
// herald the --shutdown-timeout it is given, with a margin.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	unit, err := os.ReadFile("herald.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=herald", "--data-dir /var/lib/herald", "LimitNOFILE=", "KillSignal=SIGTERM"} {
		if !strings.Contains(text, want) {
			t.Errorf("herald.service lacks %q", want)
		}
	}
	shutdown := durationIn(t, text, `--shutdown-timeout (\S+)`)
	stop := durationIn(t, text, `(?m)^TimeoutStopSec=(\S+)$`)
	if stop < shutdown+5*time.Second {
		t.Errorf("TimeoutStopSec=%v leaves --shutdown-timeout %v less than 5s of margin", stop, shutdown)
	}
	retry := durationIn(t, text, `--shutdown-retry (\S+)`)
	if retry <= 0 || retry > shutdown {
		t.Errorf("--shutdown-retry %v: want it positive and within --shutdown-timeout %v", retry, shutdown)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "herald")
	copyFile(t, "/bin/true", bin, 0o755) // verify checks the program exists and is executable
	if !strings.Contains(text, "ExecStart=/usr/local/bin/herald ") {
		t.Fatal("ExecStart does not run /usr/local/bin/herald")
	}
	path := filepath.Join(dir, "herald.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/herald", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// verify exits 0 even when it warns about a directive it ignores: any
	// output is a failure.
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// durationIn returns the duration the first group of pattern captures in
// text (systemd's "25s" or "2min" as Go durations).
func durationIn(t *testing.T, text, pattern string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s", pattern)
	}
	d, err := time.ParseDuration(strings.Replace(m[1], "min", "m", 1))
	if err != nil {
		t.Fatalf("%s: %v", pattern, err)
	}
	return d
}
