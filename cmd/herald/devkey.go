package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

// devKeyFile is the name of the development key that serve generates when
// it is given none, in the embedded store's directory.
const devKeyFile = "dev-jwt.key"

// devKey is the key serve generated because it was given none.
type devKey struct {
	secret string // an HMAC secret: 64 hex digits
	// path is the file that keeps it across restarts; empty when the
	// store has no directory (memory: or a cluster store) and the key
	// lives only as long as the process.
	path    string
	cluster bool // the store is shared by several hubs
}

// developmentKey returns the key serve uses when it was given none. With
// the embedded store (dir not empty) it is kept in dir: the key of an
// earlier start, else a new one written there with mode 0600, so that the
// tokens it signed stay valid across restarts. Else it is new and kept
// nowhere.
func developmentKey(s storeSpec, log *slog.Logger) (devKey, error) {
	k := devKey{cluster: s.url != nil}
	if s.scheme != "bolt" {
		k.secret = randomHex(32)
		return k, nil
	}
	k.path = filepath.Join(s.dir, devKeyFile)
	b, err := os.ReadFile(k.path)
	switch {
	case err == nil:
		if k.secret = strings.TrimSpace(string(b)); k.secret == "" {
			return k, fmt.Errorf("the development key %s is empty; delete it and a new one is generated", k.path)
		}
		if fi, err := os.Stat(k.path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the development key can be read by other users; chmod 600 it", "path", k.path, "mode", fi.Mode().Perm())
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return k, fmt.Errorf("read the development key: %w", err)
	}
	k.secret = randomHex(32)
	f, err := os.OpenFile(k.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return k, fmt.Errorf("keep the development key: %w", err)
	}
	_, err = io.WriteString(f, k.secret+"\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return k, fmt.Errorf("keep the development key: %w", err)
	}
	return k, nil
}

// hint says, in a refusal of a token that the key does not verify, where
// the key comes from.
func (k devKey) hint() string {
	switch {
	case k.path != "":
		return "this hub uses a development key, generated at its first start and kept in " + k.path +
			": use the token it printed at start, or sign tokens with that key"
	case k.cluster:
		return "this hub uses a development key, generated when it started and kept nowhere: each node of a cluster has its own, " +
			"and tokens from before a restart no longer verify; use the token this node printed at start, or give every node the same --jwt-key"
	}
	return "this hub uses a development key, generated when it started and kept nowhere (--store memory:): " +
		"tokens from before a restart no longer verify; use the token it printed at start, or give it a key with --jwt-key"
}

// printBanner tells, loudly, that the hub runs with a generated key, and
// gives what the README's commands need: export lines for a token and the
// key, and curl commands that work.
func (k devKey) printBanner(w io.Writer, base string) {
	tok, err := auth.Sign("HS256", []byte(k.secret), auth.Grant{Publish: []string{"*"}, Subscribe: []string{"*"}, TTL: 24 * time.Hour})
	if err != nil {
		tok = "(could not mint a token: " + err.Error() + ")"
	}
	var kept, key string
	switch {
	case k.path != "":
		kept = "It is kept in\n    " + k.path + "\n  so tokens signed with it stay valid across restarts (delete the file to\n  revoke them all)."
		key = shellQuote("@" + k.path)
	case k.cluster:
		kept = "It is not kept (a cluster store has no data directory): tokens\n  signed with it stop working when this node restarts, and every node\n  generates its own key: give all nodes the same --jwt-key."
		key = k.secret
	default:
		kept = "It is not kept (--store memory: has no data directory): tokens\n  signed with it stop working when the hub restarts."
		key = k.secret
	}
	fmt.Fprintf(w, `
  ==========================================================================
  WARNING: no JWT key was given, so Herald uses a DEVELOPMENT key.
  %s
  In production, pass --jwt-key (or --publisher-jwt-key and
  --subscriber-jwt-key).
  ==========================================================================

  A token that may publish and subscribe to every topic (valid 24h), and the
  key (for herald bench --jwt-key "$KEY"); paste these into your shell:
    export TOKEN=%s
    export KEY=%s

  Try it:
    curl -N '%s%s?topic=hello'
    curl -d topic=hello -d data=world -H "Authorization: Bearer $TOKEN" %s%s

`, kept, tok, key, base, mercure.Path, base, mercure.Path)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// withKeyHint adds hint to the hub's refusals of a token whose signature
// no configured key verifies ("… invalid signature …", 401), and changes
// nothing else. It wraps the Mercure handler when the key is a generated
// one, whose tokens a restart or another hub easily makes stale.
func withKeyHint(next http.Handler, hint string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&hintWriter{ResponseWriter: w, hint: hint}, r)
	})
}

// hintWriter appends its hint to the one-line message of a 401 answer
// about a signature.
type hintWriter struct {
	http.ResponseWriter
	hint    string
	refused bool // the status is 401 and the message not written yet
}

func (w *hintWriter) WriteHeader(code int) {
	w.refused = code == http.StatusUnauthorized
	w.ResponseWriter.WriteHeader(code)
}

func (w *hintWriter) Write(p []byte) (int, error) {
	if !w.refused || !bytes.Contains(p, []byte("invalid signature")) {
		return w.ResponseWriter.Write(p)
	}
	w.refused = false
	if _, err := fmt.Fprintf(w.ResponseWriter, "%s (%s)\n", bytes.TrimRight(p, "\n"), w.hint); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines, hijacking).
func (w *hintWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
