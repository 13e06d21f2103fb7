package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/sse"
)

const subUsage = `Usage: herald sub [flags] URL
       herald sub --hub URL --topic T [--topic T2 ...] [flags]

Watches a Server-Sent Events stream (any text/event-stream URL, or a Mercure
hub's topics with --topic) and prints each event as it arrives on standard
output; connection state changes go to standard error. Reconnects as a
browser's EventSource does, with backoff, resuming with Last-Event-ID.
Unlike a browser, it also retries when the server or a proxy in front of it
answers 429, 502, 503 or 504 (a hub restarting behind nginx), with the same
backoff, honouring Retry-After (--retry-transient=false stops there, as a
browser does). Exits 0 when the server ends the stream for good (204 No
Content) or on Ctrl-C, 1 when the stream fails for good.

Examples:
  herald sub --topic hello http://localhost:8080
  herald sub 'http://localhost:8080/.well-known/mercure?topic=hello'
  herald sub --hub http://localhost:8080 --topic 'https://example.com/books/{id}' --token "$TOKEN"
  herald sub --draft 08 --urlpattern 'https://example.com/books/:id' http://localhost:8080
  herald sub --json -H 'Authorization: Bearer abc' https://api.example.com/stream | jq .data
  herald sub -X POST --body '{"prompt":"hi"}' -H 'Content-Type: application/json' https://llm.example/v1/stream

Flags:
`

// runSub implements "herald sub".
func runSub(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		headers, topics            stringsFlag
		hub, lastID, token, method string
		body                       string
		jsonOut, quiet, comments   bool
		retryTransient             bool
		readTimeout, retry         time.Duration
		maxDelay                   time.Duration
		maxRetries                 int
	)
	fs.BoolVar(&jsonOut, "json", false, `print one JSON object per event and line: {"event":…,"data":…,"id":…}`)
	fs.StringVar(&hub, "hub", "", "the stream's or hub's `URL` (instead of the URL argument)")
	fs.Var(&topics, "topic", "subscribe to this Mercure `topic` (repeatable; draft 07: a topic, URI template or *; draft 08: an exact topic); a hub URL without a path gets /.well-known/mercure")
	var patterns stringsFlag
	fs.Var(&patterns, "urlpattern", "with --draft 08: subscribe to the topics this URL `pattern` matches (repeatable), e.g. https://example.com/books/:id")
	var draft draftFlags // --draft 08: draft.go
	draft.register(fs, false)
	fs.Var(&headers, "H", "add a request header `'Name: value'` (repeatable)")
	fs.Var(&headers, "header", "same as -H")
	fs.StringVar(&token, "token", "", "send `T` as a bearer token (Authorization: Bearer T)")
	fs.StringVar(&lastID, "last-event-id", "", "resume after this event `ID` (sent as Last-Event-ID)")
	fs.StringVar(&method, "X", "", "request `method` (default GET, or POST with --body)")
	fs.StringVar(&body, "body", "", "request body, sent again on every reconnection; @file reads a file, @- standard input")
	fs.DurationVar(&readTimeout, "read-timeout", 0, "reconnect when nothing, not even a heartbeat, arrives for this long (0: never)")
	fs.DurationVar(&retry, "retry", eventsource.DefaultDelay, "reconnection delay until the server sets one with retry: (0: reconnect at once)")
	fs.DurationVar(&maxDelay, "max-delay", eventsource.DefaultMaxDelay, "longest backoff between failed attempts")
	fs.IntVar(&maxRetries, "max-retries", 0, "give up after this many failed reconnections in a row (0: never)")
	fs.BoolVar(&retryTransient, "retry-transient", true, "retry 429, 502, 503 and 504 with backoff, honouring Retry-After; --retry-transient=false exits at once, as a browser stops")
	fs.BoolVar(&comments, "comments", false, `also print comment lines (heartbeats) in order with the events (JSON: {"comment":…})`)
	fs.BoolVar(&quiet, "quiet", false, "do not report connection state changes on standard error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), subUsage)
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}

	draft08, err := draft.is08()
	if err != nil {
		return usageError{fmt.Errorf("sub: %v", err)}
	}
	if len(patterns) > 0 && !draft08 {
		return usageError{errors.New("sub: --urlpattern is draft 08's (match_urlpattern=): add --draft 08")}
	}
	target, err := subTarget(hub, positional, topics, patterns, draft08)
	if err != nil {
		return usageError{fmt.Errorf("sub: %v", err)}
	}
	switch {
	case retry < 0:
		return usageError{errors.New("sub: --retry must not be negative")}
	case maxDelay <= 0:
		return usageError{errors.New("sub: --max-delay must be positive")}
	case readTimeout < 0:
		return usageError{errors.New("sub: --read-timeout must not be negative")}
	case maxRetries < 0:
		return usageError{errors.New("sub: --max-retries must not be negative")}
	}
	var content io.Reader
	if body != "" {
		b, err := readBody(body, stdin)
		if err != nil {
			return usageError{fmt.Errorf("sub: --body: %v", err)}
		}
		content = bytes.NewReader(b)
		if method == "" {
			method = http.MethodPost
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, target, content)
	if err != nil {
		return usageError{fmt.Errorf("sub: %v", err)}
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return usageError{fmt.Errorf("sub: -H %q: want 'Name: value'", h)}
		}
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}

	if retry == 0 {
		retry = eventsource.NoDelay
	}
	p := &subPrinter{stdout: stdout, stderr: stderr, json: jsonOut, quiet: quiet, target: target}
	c := &eventsource.Client{
		Reconnect: eventsource.Reconnect{
			Delay:          retry,
			MaxDelay:       maxDelay,
			ReadTimeout:    readTimeout,
			MaxRetries:     maxRetries,
			RetryTransient: retryTransient,
		},
		OnStateChange: p.state,
	}
	if comments {
		c.OnComment = p.comment
	}
	for ev, err := range c.Events(ctx, req) {
		if err != nil {
			if errors.Is(err, eventsource.ErrNoContent) || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
				return nil
			}
			return subFailure(target, len(topics)+len(patterns) > 0, err)
		}
		p.event(ev)
		if p.err != nil {
			return fmt.Errorf("sub: writing an event: %w", p.err)
		}
	}
	return nil
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("herald sub URL --json"), and returns the latter.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseArgs(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	if err := applyEnv(fs); err != nil {
		return nil, usageError{err}
	}
	return positional, nil
}

// subTarget returns the URL to subscribe to: the URL argument or --hub,
// with a topic query parameter per --topic (draft 08: match, and a
// match_urlpattern per --urlpattern), and the Mercure well-known path if
// the URL has none.
func subTarget(hub string, positional, topics, patterns []string, draft08 bool) (string, error) {
	raw := hub
	switch {
	case len(positional) > 1:
		return "", fmt.Errorf("want one URL, got %q", positional)
	case len(positional) == 1 && hub != "" && positional[0] != hub:
		return "", fmt.Errorf("two URLs: %q and --hub %q", positional[0], hub)
	case len(positional) == 1:
		raw = positional[0]
	case raw == "":
		return "", errors.New("missing URL (give it as argument or with --hub)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("invalid URL %q: want an http or https URL", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("invalid URL %q: no host", raw)
	}
	if len(topics) == 0 && len(patterns) == 0 {
		return u.String(), nil
	}
	withHubPath(u)
	q := u.Query()
	param := "topic"
	if draft08 {
		param = "match"
	}
	for _, t := range topics {
		q.Add(param, t)
	}
	for _, p := range patterns {
		q.Add("match_urlpattern", p)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// readBody returns the request body --body gives: the text itself, or the
// contents of a file (@path) or of standard input (@-).
func readBody(arg string, stdin io.Reader) ([]byte, error) {
	switch {
	case arg == "@-":
		return readLimit(stdin, "standard input")
	case strings.HasPrefix(arg, "@"):
		return readFileLimit(arg[1:])
	}
	return []byte(arg), nil
}

// subFailure turns the error that ended a stream into the command's error.
// When the URL answered something else than a stream and no topic was
// given, it suggests --topic: the URL may be the hub's own.
func subFailure(target string, withTopics bool, err error) error {
	msg := describe(err)
	var se *eventsource.StatusError
	var ce *eventsource.ContentTypeError
	notFound := errors.As(err, &se) && se.Code == http.StatusNotFound && !errors.Is(err, eventsource.ErrGaveUp)
	if !withTopics && (errors.As(err, &ce) || notFound) {
		if u, perr := url.Parse(target); perr == nil {
			msg += "; to watch a hub's topics, give them with --topic: herald sub --topic TOPIC " + u.Scheme + "://" + u.Host
		}
	}
	return messageError{msg: fmt.Sprintf("sub: %s: %s", target, msg), err: err}
}

// describe says for people what an error of the client means: the status
// and the first line of the server's message for a refused request, what
// came instead of an event stream, or the client's message without its
// package prefix (main prints its own).
func describe(err error) string {
	var se *eventsource.StatusError
	var ce *eventsource.ContentTypeError
	switch {
	case errors.Is(err, eventsource.ErrGaveUp):
	case errors.As(err, &se):
		msg := "the server answered " + printable(se.Status)
		if line := firstTextLine(se.Header.Get("Content-Type"), se.Body); line != "" {
			msg += ": " + line
		}
		return msg
	case errors.As(err, &ce):
		mt, _, _ := mime.ParseMediaType(ce.ContentType)
		switch {
		case ce.ContentType == "":
			return "the server answered without a Content-Type, not with an event stream (text/event-stream)"
		case mt == "text/html":
			return "the server answered with a web page (text/html), not an event stream"
		}
		return fmt.Sprintf("the server answered with %s, not an event stream (text/event-stream)", printable(ce.ContentType))
	}
	return printable(strings.TrimPrefix(err.Error(), "eventsource: "))
}

// messageError is an error with a message for people that wraps the error
// it describes.
type messageError struct {
	msg string
	err error
}

func (e messageError) Error() string { return e.msg }
func (e messageError) Unwrap() error { return e.err }

// firstTextLine returns the first non-empty line of a textual body (text/*
// or JSON), cleaned for a terminal and shortened, or "".
func firstTextLine(contentType string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if !strings.HasPrefix(mt, "text/") && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return ""
	}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > 200 {
			line = string([]rune(line)[:200]) + "…"
		}
		return printable(line)
	}
	return ""
}

// printable returns s with control characters (but tab) escaped, so that a
// server cannot drive the terminal.
func printable(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool { return r != '\t' && unicode.IsControl(r) }

// subPrinter writes events (and comments) on stdout and state changes on
// stderr, each with one Write so that lines are never split or held back,
// even in a pipe. It keeps the first error writing to stdout.
type subPrinter struct {
	stdout, stderr io.Writer
	json, quiet    bool
	target         string
	err            error
}

// subJSON is an event as --json prints it.
type subJSON struct {
	Event string `json:"event"`
	Data  string `json:"data"`
	ID    string `json:"id"`
}

// subJSONComment is a comment as --json --comments prints it.
type subJSONComment struct {
	Comment string `json:"comment"`
}

// write writes b on stdout, unless a write failed before.
func (p *subPrinter) write(b []byte) {
	if p.err == nil {
		_, p.err = p.stdout.Write(b)
	}
}

// jsonLine returns v as one line of JSON, without HTML escaping.
func jsonLine(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // strings only: cannot fail
	return b.Bytes()
}

// comment prints a comment line.
func (p *subPrinter) comment(text string) {
	if p.json {
		p.write(jsonLine(subJSONComment{Comment: text}))
		return
	}
	line := timestamp() + " comment"
	if text != "" {
		line += ": " + printable(text)
	}
	p.write([]byte(line + "\n"))
}

// event prints an event.
func (p *subPrinter) event(ev sse.Event) {
	if p.json {
		p.write(jsonLine(subJSON{Event: ev.Type, Data: ev.Data, ID: ev.ID}))
		return
	}
	var b bytes.Buffer
	b.WriteString(timestamp() + " event=" + printable(ev.Type))
	if ev.ID != "" {
		b.WriteString(" id=" + printable(ev.ID))
	}
	b.WriteByte('\n')
	if ev.Data == "" {
		b.WriteString("  (no data)\n")
	}
	for line := range strings.Lines(ev.Data) {
		b.WriteString("  " + printable(strings.TrimSuffix(line, "\n")) + "\n")
	}
	p.write(b.Bytes())
}

// state reports a state change on stderr.
func (p *subPrinter) state(sc eventsource.StateChange) {
	if p.quiet {
		return
	}
	var msg string
	switch sc.State {
	case eventsource.StateConnecting:
		if sc.Attempt == 1 {
			msg = "connecting to " + p.target
		}
	case eventsource.StateOpen:
		msg = "connected (" + sc.Response.Status + ")"
		for _, h := range []string{"Last-Event-ID", "Mercure-Last-Event-ID"} { // draft 07, draft 08
			if id := sc.Response.Header.Get(h); id != "" {
				msg += ", server " + h + ": " + printable(id)
			}
		}
	case eventsource.StateReconnecting:
		msg = fmt.Sprintf("%s; reconnecting in %v", describe(sc.Err), roundDelay(sc.Delay))
		if sc.Failures > 1 {
			msg += fmt.Sprintf(" (%d failures in a row)", sc.Failures)
		}
	case eventsource.StateClosed:
		if errors.Is(sc.Err, eventsource.ErrNoContent) {
			msg = "the server ended the stream (204 No Content)"
		} else if errors.Is(sc.Err, context.Canceled) {
			msg = "closed"
		}
	}
	if msg != "" {
		io.WriteString(p.stderr, timestamp()+" "+msg+"\n")
	}
}

// roundDelay rounds d for people: to 0.1s from a second on, else to 1ms.
func roundDelay(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// timestamp returns the local time of day with milliseconds.
func timestamp() string {
	return time.Now().Format("15:04:05.000")
}
