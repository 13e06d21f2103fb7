package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/herald-sse/herald/auth"
)

// bannerExports returns the values of the export lines serve printed.
func bannerExports(t *testing.T, stdout string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+export (\w+)=(\S+)$`).FindAllStringSubmatch(stdout, -1) {
		out[m[1]] = strings.Trim(m[2], "'")
	}
	if out["TOKEN"] == "" || out["KEY"] == "" {
		t.Fatalf("serve printed no export TOKEN=… and KEY=… lines:\n%s", stdout)
	}
	return out
}

// TestDevKeyKept: with the embedded store, the generated development key is
// kept in the data directory (mode 0600), so the token printed at the first
// start still works after a restart; the banner gives ready export lines
// for the token and the key.
func TestDevKeyKept(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	first := serveHub(t, "--data-dir="+dir, "--store=bolt:")
	exports := bannerExports(t, first.stdout.String())
	token := exports["TOKEN"]
	keyFile := filepath.Join(dir, devKeyFile)
	if exports["KEY"] != "@"+keyFile {
		t.Errorf("export KEY=%s, want @%s (the file, not the secret)", exports["KEY"], keyFile)
	}
	if !strings.Contains(first.stdout.String(), keyFile) {
		t.Errorf("the banner does not say where the key is kept (%s):\n%s", keyFile, first.stdout)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("the development key is not kept: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keyFile, mode)
	}

	second := serveHub(t, "--data-dir="+dir, "--store=bolt:")
	if status, body := servePublish(t, second.base, token, url.Values{"topic": {"t"}, "data": {"x"}}); status != http.StatusOK {
		t.Errorf("after a restart, publishing with the first start's token: %d %q, want 200", status, body)
	}
	if got := bannerExports(t, second.stdout.String())["KEY"]; got != "@"+keyFile {
		t.Errorf("after a restart: export KEY=%s, want @%s", got, keyFile)
	}
	// The key the banner names signs tokens the hub accepts (herald bench
	// --jwt-key "$KEY" does this).
	k, err := auth.LoadKey("@" + keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := servePublish(t, second.base, serveToken(t, string(k), auth.Grant{Publish: []string{"*"}}), url.Values{"topic": {"t"}}); status != http.StatusOK {
		t.Errorf("publishing with a token signed by the kept key: %d %q", status, body)
	}
}

// TestDevKeyNotKept: with the memory store there is no data directory: the
// banner says that tokens die with the hub and prints the key itself.
func TestDevKeyNotKept(t *testing.T) {
	t.Parallel()
	h := serveHub(t)
	out := h.stdout.String()
	exports := bannerExports(t, out)
	if strings.HasPrefix(exports["KEY"], "@") {
		t.Errorf("export KEY=%s names a file, but nothing is kept with --store memory:", exports["KEY"])
	}
	if !strings.Contains(out, "not kept") || !strings.Contains(out, "restart") {
		t.Errorf("the banner does not say that the key is not kept and tokens end with a restart:\n%s", out)
	}
	if status, body := servePublish(t, h.base, serveToken(t, exports["KEY"], auth.Grant{Publish: []string{"*"}}), url.Values{"topic": {"t"}}); status != http.StatusOK {
		t.Errorf("publishing with a token signed by the printed key: %d %q", status, body)
	}
}

// TestDevKeyHint: a token that the generated key does not verify (signed
// by another hub's development key, or before a restart of an in-memory
// hub) is refused with a message saying that the hub uses a development
// key, and where it is kept.
func TestDevKeyHint(t *testing.T) {
	t.Parallel()
	other := serveToken(t, "some other key", auth.Grant{Publish: []string{"*"}, Subscribe: []string{"*"}})
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store=bolt:" + dir}, filepath.Join(dir, devKeyFile)},
		{nil, "--jwt-key"},
	} {
		h := serveHub(t, tc.args...)
		status, body := servePublish(t, h.base, other, url.Values{"topic": {"t"}})
		if status != http.StatusUnauthorized || !strings.Contains(body, "development key") || !strings.Contains(body, tc.want) {
			t.Errorf("%q: publish with a token of another key: %d %q, want 401 saying it is a development key (and %q)", tc.args, status, body, tc.want)
		}
		resp, body := serveGet(t, h.base+"/.well-known/mercure?topic=t", http.Header{"Authorization": {"Bearer " + other}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "development key") {
			t.Errorf("%q: subscribe with a token of another key: %s %q, want 401 saying it is a development key", tc.args, resp.Status, body)
		}
	}
	// With a key of its own, the hub says nothing about development keys.
	h := serveHub(t, "--jwt-key="+serveTestKey)
	if status, body := servePublish(t, h.base, other, url.Values{"topic": {"t"}}); status != http.StatusUnauthorized || strings.Contains(body, "development") {
		t.Errorf("with --jwt-key: %d %q, want 401 without a development-key hint", status, body)
	}
}
