package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

func runPub(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		topics                 stringsFlag
		hubURL, data, dataFile string
		typ, id, token, jwtKey string
		jwtAlg                 string
		retry                  time.Duration
		private                bool
		timeout                time.Duration
		batch                  pubBatch
	)
	fs.StringVar(&hubURL, "hub", "http://localhost:8080/.well-known/mercure", "the hub's URL (the path defaults to /.well-known/mercure)")
	fs.Var(&topics, "topic", "topic of the update (repeatable; the first is the canonical one)")
	fs.StringVar(&data, "data", "", "the update's data, exactly (default: standard input, without one trailing line break)")
	fs.StringVar(&dataFile, "data-file", "", "send the bytes of the file at `PATH`, exactly, as the update's data")
	fs.StringVar(&typ, "type", "", "the SSE event type")
	fs.StringVar(&id, "id", "", "the event id (default: the hub generates one)")
	fs.DurationVar(&retry, "retry", 0, "the reconnection delay to send (e.g. 3s)")
	fs.BoolVar(&private, "private", false, "deliver only to subscribers authorized for the topic")
	fs.StringVar(&token, "token", "", "publisher JWT (Bearer)")
	fs.StringVar(&jwtKey, "jwt-key", "", "sign a short-lived publisher token for the given topics (with --batch: for every topic) with this key (HMAC secret, PEM or @file)")
	fs.StringVar(&jwtAlg, "jwt-alg", "HS256", "algorithm for --jwt-key")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long (with --batch: on each request)")
	fs.BoolVar(&batch.on, "batch", false, "publish many updates: read them from standard input, one JSON object per line with the fields topic (a string or an array), data, id, type, private (true or false) and retry (milliseconds); post them in batches and print their ids, one per line, in order")
	fs.IntVar(&batch.size, "batch-size", 100, fmt.Sprintf("with --batch: lines per request (1 to %d)", herald.MaxBatchLen))
	fs.DurationVar(&batch.wait, "batch-wait", 100*time.Millisecond, "with --batch: post a batch that is not full once its first line has waited this long")
	var draft draftFlags // --draft 08: draft.go
	draft.register(fs, true)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), pubUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := draft.is08(); err != nil {
		return usageError{fmt.Errorf("pub: %v", err)}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if batch.on {
		batch.hub, batch.token, batch.jwtKey, batch.jwtAlg, batch.timeout, batch.draft = hubURL, token, jwtKey, jwtAlg, timeout, &draft
		if err := batch.check(fs, given); err != nil {
			return err
		}
		return batch.run(ctx, stdin, stdout)
	}
	if given["batch-size"] || given["batch-wait"] {
		return usageError{errors.New("pub: --batch-size and --batch-wait go with --batch")}
	}
	if len(topics) == 0 {
		return usageError{fmt.Errorf("pub: at least one --topic is required")}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("pub: unexpected arguments %q (give the data with --data, --data-file or on standard input)", fs.Args())}
	}
	if given["data"] && given["data-file"] {
		return usageError{errors.New("pub: give the data with --data, --data-file or on standard input, not several")}
	}
	endpoint, err := hubEndpoint(hubURL)
	if err != nil {
		return usageError{fmt.Errorf("pub: --hub: %v", err)}
	}
	if token == "" && jwtKey != "" {
		k, err := auth.LoadKey(jwtKey)
		if err != nil {
			return usageError{fmt.Errorf("pub: --jwt-key: %s", plain(err))}
		}
		token, err = draft.sign(jwtAlg, k, endpoint, topics, nil, 5*time.Minute)
		if ue, ok := errors.AsType[usageError](err); ok {
			return usageError{fmt.Errorf("pub: %v", ue.err)}
		}
		if err != nil {
			return messageError{msg: "pub: signing a token: " + plain(err), err: err}
		}
	}
	switch {
	case given["data-file"]:
		b, err := readFileLimit(dataFile)
		if err != nil {
			return usageError{fmt.Errorf("pub: --data-file: %v", err)}
		}
		data = string(b)
	case !given["data"]:
		b, err := readLimit(stdin, "standard input")
		if err != nil {
			return fmt.Errorf("pub: reading %w", err)
		}
		data = trimLineBreak(string(b))
	}

	form := url.Values{"topic": topics, "data": {data}}
	if typ != "" {
		form.Set("type", typ)
	}
	if id != "" {
		form.Set("id", id)
	}
	if retry > 0 {
		form.Set("retry", strconv.FormatInt(retry.Milliseconds(), 10))
	}
	if private {
		form.Set("private", "on")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("pub: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pub: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pub: the hub answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, string(body))
	return nil
}

const pubUsage = `Usage: herald pub --hub URL --topic T [--data D | --data-file PATH | < file] [flags]
       herald pub --batch --hub URL [flags] < updates.ndjson

Publishes one update and prints its id. The data is --data, or the bytes of
--data-file, exactly; or else standard input without one trailing line break
(LF or CRLF), the one echo and editors add: echo x | herald pub ... sends "x".

With --batch, publishes every line of standard input, a JSON object such as
  {"topic": "https://example.com/users/1", "data": "{\"unread\": 3}", "private": true}
in requests of --batch-size lines (each stored whole or not at all), and
prints their ids, one per line, in order. A line the hub refuses is named
by its number; the lines before its request were published.

Flags:
`

// maxData is the most data pub reads from standard input or a file.
const maxData = 64 << 20

// readLimit reads r, named what, to its end; more than maxData bytes is an
// error, never a silent truncation.
func readLimit(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxData+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(b) > maxData {
		return nil, fmt.Errorf("%s: more than %d MiB", what, maxData>>20)
	}
	return b, nil
}

// readFileLimit reads the file at path with readLimit.
func readFileLimit(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimit(f, path)
}

// trimLineBreak removes one trailing line break, CRLF or LF, from s.
func trimLineBreak(s string) string {
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		return strings.TrimSuffix(t, "\r")
	}
	return s
}

// plain returns err's message without the "herald: invalid: " of the root
// package's sentinel it wraps first: main prints "herald: " before every
// error, once.
func plain(err error) string {
	return strings.TrimPrefix(err.Error(), herald.ErrInvalid.Error()+": ")
}

// hubEndpoint completes a hub URL: a URL without a path gets the Mercure
// well-known path.
func hubEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	}
	withHubPath(u)
	return u.String(), nil
}

// withHubPath gives a hub URL that has no path the Mercure well-known path.
func withHubPath(u *url.URL) {
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = mercure.Path, ""
	}
}
