package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-sse/herald/internal/hubtest"
)

// TestStoreFlagStrict: a --store value that is not one of the valid forms
// is a usage error that lists them, and nothing is created: "memory" (no
// colon) used to open a durable store in a folder named memory.
func TestStoreFlagStrict(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // where a relative store directory would land
	// A value that is accepted would serve until the context ends: end it
	// at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, v := range []string{
		"memory", "bolt", "redis", "nats", "herald-data", "",
		"memory:x", "memory://", "bolt://host/dir", "redis:", "redis:/x", "rediss:", "nats:", "nats://",
		"file:/tmp/x", "http://127.0.0.1:6379", "user:secret@127.0.0.1",
	} {
		var stderr hubtest.SyncBuffer
		err := run(ctx, []string{"serve", "--addr=127.0.0.1:0", "--demo=false", "--store=" + v}, strings.NewReader(""), io.Discard, &stderr)
		if err == nil {
			t.Errorf("--store=%q: no error", v)
			continue
		}
		if code := exitCode(err); code != 2 {
			t.Errorf("--store=%q: %v: exit code %d, want 2", v, err, code)
		}
		for _, form := range []string{"bolt:", "memory:", "redis://", "nats://"} {
			if !strings.Contains(err.Error(), form) {
				t.Errorf("--store=%q: %q does not list %q", v, err, form)
			}
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("--store=%q: the error shows the password: %q", v, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("refused --store values created %v", entries)
	}
}

// TestStoreLogged: the listening log line names the store that was opened:
// the directory bolt: uses (bolt:/path over --data-dir), or memory:.
func TestStoreLogged(t *testing.T) {
	t.Parallel()
	x, y := filepath.Join(t.TempDir(), "x"), filepath.Join(t.TempDir(), "y")
	l, _ := runServeListening(t, "--store=bolt:"+x, "--data-dir="+y)
	if l.Store != "bolt:"+x {
		t.Errorf("--store=bolt:%s --data-dir=%s: the log says store=%q, want %q", x, y, l.Store, "bolt:"+x)
	}
	if _, err := os.Stat(filepath.Join(x, "herald.db")); err != nil {
		t.Errorf("no history in %s: %v", x, err)
	}
	if _, err := os.Stat(y); err == nil {
		t.Errorf("--data-dir %s was created, though bolt:%s names the store's directory", y, x)
	}

	z := filepath.Join(t.TempDir(), "z")
	if l, _ := runServeListening(t, "--store=bolt:", "--data-dir="+z); l.Store != "bolt:"+z {
		t.Errorf("--store=bolt: --data-dir=%s: the log says store=%q", z, l.Store)
	}
	if l, _ := runServeListening(t, "--store=memory:"); l.Store != "memory:" {
		t.Errorf("--store=memory:: the log says store=%q", l.Store)
	}
}

// TestParseStore: the accepted forms, and how each is named in logs (a
// cluster URL without its password).
func TestParseStore(t *testing.T) {
	t.Parallel()
	abs, _ := filepath.Abs("rel")
	for raw, want := range map[string]string{
		"bolt:":                                  "bolt:/data/default",
		"bolt:/srv/h":                            "bolt:/srv/h",
		"bolt:rel":                               "bolt:" + abs,
		"memory:":                                "memory:",
		"redis://127.0.0.1:6379/0?stream=herald": "redis://127.0.0.1:6379/0?stream=herald",
		"rediss://user:secret@redis.example:6380/0?stream=h": "rediss://user:xxxxx@redis.example:6380/0?stream=h",
		"nats://user:secret@127.0.0.1:4222?stream=herald":    "nats://user:xxxxx@127.0.0.1:4222?stream=herald",
	} {
		s, err := parseStore(raw, "/data/default")
		if err != nil {
			t.Errorf("parseStore(%q): %v", raw, err)
			continue
		}
		if got := s.String(); got != want {
			t.Errorf("parseStore(%q) is named %q, want %q", raw, got, want)
		}
	}
}
