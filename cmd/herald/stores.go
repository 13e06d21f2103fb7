package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/memory"
)

// storeForms lists the values --store accepts, for its help and errors.
const storeForms = "bolt: (embedded and durable, in --data-dir), bolt:/path/to/dir, memory: (no durability), " +
	"or a cluster engine shared by several hubs: redis://host:6379/0?stream=herald, rediss://… (TLS), nats://host:4222?stream=herald"

// storeSpec is a --store value, parsed.
type storeSpec struct {
	scheme string   // "bolt", "memory", "redis", "rediss" or "nats"
	dir    string   // bolt: the directory, absolute
	url    *url.URL // redis, rediss, nats
}

// parseStore parses a --store value strictly: one of the forms of
// storeForms, or a usage error listing them. bolt: alone stands for
// dataDir. Errors never show a URL's password.
func parseStore(raw, dataDir string) (storeSpec, error) {
	refuse := func(why string) error {
		return usageError{fmt.Errorf("--store: %s; use %s", why, storeForms)}
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		if raw == "" {
			return storeSpec{}, refuse("empty")
		}
		return storeSpec{}, refuse(fmt.Sprintf("%q is not a store (the kind of store ends with a colon, as in %s:)", raw, raw))
	}
	switch scheme {
	case "bolt":
		if strings.HasPrefix(rest, "//") {
			return storeSpec{}, refuse(fmt.Sprintf("%q: bolt: takes a directory, bolt:/path/to/dir, not a URL", raw))
		}
		dir := rest
		if dir == "" {
			dir = dataDir
		}
		if dir == "" {
			return storeSpec{}, refuse("bolt: with an empty --data-dir")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return storeSpec{}, usageError{fmt.Errorf("--store: %s: %v", raw, err)}
		}
		return storeSpec{scheme: scheme, dir: abs}, nil
	case "memory":
		if rest != "" {
			return storeSpec{}, refuse(fmt.Sprintf("%q: memory: takes nothing after the colon", raw))
		}
		return storeSpec{scheme: scheme}, nil
	case "redis", "rediss", "nats":
		u, err := url.Parse(raw)
		if err != nil || !strings.HasPrefix(rest, "//") || u.Host == "" {
			return storeSpec{}, refuse(fmt.Sprintf("a %s store is a URL with a host, %s://host:port…", scheme, scheme))
		}
		return storeSpec{scheme: scheme, url: u}, nil
	}
	return storeSpec{}, refuse(fmt.Sprintf("unknown kind of store %q", scheme+":"))
}

// String names the store for logs and messages: bolt: with its directory,
// memory:, or the cluster URL without its password.
func (s storeSpec) String() string {
	switch s.scheme {
	case "bolt":
		return "bolt:" + s.dir
	case "memory":
		return "memory:"
	}
	return s.url.Redacted()
}

// openStore opens the store s names. undo removes what opening created on
// disk (a bolt store's directory and the parents made for it, or the files
// added to a directory that was there), for a start that fails later; call
// it after closing the store. On error, openStore has undone it already.
func openStore(s storeSpec, r herald.Retention, log *slog.Logger) (store herald.Store, undo func(), err error) {
	undo = func() {}
	switch s.scheme {
	case "memory":
		return memory.New(memory.Options{Retention: r}), undo, nil
	case "redis", "rediss", "nats":
		store, err = openCluster(s.url, r, log)
		return store, undo, err
	}
	if undo, err = footprint(s.dir); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		undo()
		return nil, nil, fmt.Errorf("create the data directory: %w", err)
	}
	store, err = bolt.Open(s.dir, bolt.Options{Retention: r, Logger: log})
	if err != nil {
		undo()
		return nil, nil, err
	}
	return store, undo, nil
}

// footprint notes what exists at dir now, and returns a function that
// removes what was created there since: dir itself and the missing parents
// above it when it did not exist, else the entries added to it.
func footprint(dir string) (undo func(), err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		top := dir
		for {
			parent := filepath.Dir(top)
			if _, err := os.Stat(parent); err == nil || parent == top {
				break
			}
			top = parent
		}
		return func() { os.RemoveAll(top) }, nil
	case err != nil:
		return nil, fmt.Errorf("the data directory: %w", err)
	}
	had := make(map[string]bool, len(entries))
	for _, e := range entries {
		had[e.Name()] = true
	}
	return func() {
		now, _ := os.ReadDir(dir)
		for _, e := range now {
			if !had[e.Name()] {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}, nil
}
