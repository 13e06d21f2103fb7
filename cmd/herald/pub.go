package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

func runPub(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		topics             stringsFlag
		hubURL, data, typ  string
		id, token, jwtKey  string
		jwtAlg             string
		retry              time.Duration
		private, dataGiven bool
		timeout            time.Duration
	)
	fs.StringVar(&hubURL, "hub", "http://localhost:8080/.well-known/mercure", "the hub's URL (the path defaults to /.well-known/mercure)")
	fs.Var(&topics, "topic", "topic of the update (repeatable; the first is the canonical one)")
	fs.StringVar(&data, "data", "", "the update's data (default: read from standard input)")
	fs.StringVar(&typ, "type", "", "the SSE event type")
	fs.StringVar(&id, "id", "", "the event id (default: the hub generates one)")
	fs.DurationVar(&retry, "retry", 0, "the reconnection delay to send (e.g. 3s)")
	fs.BoolVar(&private, "private", false, "deliver only to subscribers authorized for the topic")
	fs.StringVar(&token, "token", "", "publisher JWT (Bearer)")
	fs.StringVar(&jwtKey, "jwt-key", "", "sign a short-lived publisher token for the given topics with this key (HMAC secret, PEM or @file)")
	fs.StringVar(&jwtAlg, "jwt-alg", "HS256", "algorithm for --jwt-key")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: herald pub --hub URL --topic T [--data D | < file] [flags]\n\nPublishes one update and prints its id.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) { dataGiven = dataGiven || f.Name == "data" })
	if len(topics) == 0 {
		return usageError{fmt.Errorf("pub: at least one --topic is required")}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("pub: unexpected arguments %q (give the data with --data or on standard input)", fs.Args())}
	}
	endpoint, err := hubEndpoint(hubURL)
	if err != nil {
		return usageError{fmt.Errorf("pub: --hub: %v", err)}
	}
	if token == "" && jwtKey != "" {
		k, err := auth.LoadKey(jwtKey)
		if err != nil {
			return usageError{fmt.Errorf("pub: --jwt-key: %v", err)}
		}
		token, err = auth.Sign(jwtAlg, k, auth.Grant{Publish: topics, TTL: 5 * time.Minute})
		if err != nil {
			return fmt.Errorf("pub: signing a token: %w", err)
		}
	}
	if !dataGiven {
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<20))
		if err != nil {
			return fmt.Errorf("pub: reading standard input: %w", err)
		}
		data = string(b)
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
