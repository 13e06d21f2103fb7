package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

// pubBatch is `herald pub --batch`: it reads NDJSON lines from standard
// input and posts them to the hub's batch endpoint (mercure.BatchPath) in
// requests of size lines, or fewer once the first line of a request has
// waited wait, printing the ids the hub answers.
type pubBatch struct {
	on             bool
	size           int
	wait           time.Duration
	hub            string
	token          string
	jwtKey, jwtAlg string
	timeout        time.Duration
	draft          *draftFlags // --draft 08: access tokens of --issuer

	endpoint string
	hubURL   string // the hub's URL, the audience of draft-08 tokens
	key      []byte
}

// singleFlags are pub's flags that describe one update: --batch takes the
// updates from its input instead.
var singleFlags = []string{"topic", "data", "data-file", "type", "id", "retry", "private"}

// check refuses flags that make no sense with --batch and completes b.
func (b *pubBatch) check(fs *flag.FlagSet, given map[string]bool) error {
	var wrong []string
	for _, name := range singleFlags {
		if given[name] {
			wrong = append(wrong, "--"+name)
		}
	}
	if len(wrong) > 0 {
		return usageError{fmt.Errorf("pub: --batch takes the updates from standard input, one JSON object per line: %s cannot be given with it", strings.Join(wrong, ", "))}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("pub: unexpected arguments %q (--batch reads the updates from standard input)", fs.Args())}
	}
	if b.size < 1 || b.size > herald.MaxBatchLen {
		return usageError{fmt.Errorf("pub: --batch-size must be between 1 and %d, not %d", herald.MaxBatchLen, b.size)}
	}
	if b.wait < 0 {
		return usageError{errors.New("pub: --batch-wait must not be negative")}
	}
	u, err := url.Parse(b.hub)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return usageError{fmt.Errorf("pub: --hub: %q is not an http(s) URL", b.hub)}
	}
	withHubPath(u)
	b.hubURL = u.String()
	u.Path = strings.TrimSuffix(u.Path, "/") + strings.TrimPrefix(mercure.BatchPath, mercure.Path)
	u.RawPath = ""
	b.endpoint = u.String()
	if b.token == "" && b.jwtKey != "" {
		if b.key, err = auth.LoadKey(b.jwtKey); err != nil {
			return usageError{fmt.Errorf("pub: --jwt-key: %s", plain(err))}
		}
		if _, err := b.sign(); err != nil {
			return err
		}
	}
	return nil
}

// sign returns a short-lived token that may publish to every topic: the
// topics of a batch are known only to its lines.
func (b *pubBatch) sign() (string, error) {
	tok, err := b.draft.sign(b.jwtAlg, b.key, b.hubURL, []string{"*"}, nil, 5*time.Minute)
	if ue, ok := errors.AsType[usageError](err); ok {
		return "", usageError{fmt.Errorf("pub: %v", ue.err)}
	}
	if err != nil {
		return "", messageError{msg: "pub: signing a token: " + plain(err), err: err}
	}
	return tok, nil
}

// inputLine is one line of standard input, without its line break, or the
// error that ended the input.
type inputLine struct {
	text []byte
	err  error
}

// run publishes standard input until it ends, or until the hub refuses a
// batch (the error then names the line).
func (b *pubBatch) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	lines := make(chan inputLine, b.size)
	done := make(chan struct{})
	defer close(done)
	go readLines(stdin, lines, done)

	var batch [][]byte
	first := 1 // the input line of batch[0]
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	post := func() error {
		if len(batch) == 0 {
			return nil
		}
		timer.Stop()
		if err := b.post(ctx, batch, first, stdout); err != nil {
			return err
		}
		first += len(batch)
		batch = batch[:0]
		return nil
	}
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return post()
			}
			if l.err != nil {
				return fmt.Errorf("pub: line %d: %v; %s", first+len(batch), l.err, published(first))
			}
			batch = append(batch, l.text)
			if len(batch) == 1 {
				timer.Reset(b.wait)
			}
			if len(batch) == b.size {
				if err := post(); err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := post(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readLines sends the lines of r on lines, then closes it; a line longer
// than maxData is an error. It stops when done is closed.
func readLines(r io.Reader, lines chan<- inputLine, done <-chan struct{}) {
	defer close(lines)
	br := bufio.NewReaderSize(r, 64<<10)
	send := func(l inputLine) bool {
		select {
		case lines <- l:
			return true
		case <-done:
			return false
		}
	}
	for {
		var line []byte
		var err error
		for {
			var part []byte
			part, err = br.ReadSlice('\n')
			line = append(line, part...)
			if err != bufio.ErrBufferFull {
				break
			}
			if len(line) > maxData {
				send(inputLine{err: fmt.Errorf("longer than %d MiB", maxData>>20)})
				return
			}
		}
		if len(line) > 0 && !send(inputLine{text: bytes.TrimSuffix(line, []byte("\n"))}) {
			return
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			send(inputLine{err: fmt.Errorf("reading standard input: %w", err)})
			return
		}
	}
}

// published says what was published before the request that starts at
// input line first.
func published(first int) string {
	if first == 1 {
		return "nothing was published"
	}
	return fmt.Sprintf("lines 1-%d were published, none from line %d on", first-1, first)
}

// post sends batch, whose first line is input line first, and prints the
// ids the hub answers.
func (b *pubBatch) post(ctx context.Context, batch [][]byte, first int, stdout io.Writer) error {
	last := first + len(batch) - 1
	size := 0
	for _, l := range batch {
		size += len(l) + 1
	}
	body := make([]byte, 0, size)
	for _, l := range batch {
		body = append(append(body, l...), '\n')
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("pub: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	token := b.token
	if token == "" && b.key != nil {
		if token, err = b.sign(); err != nil {
			return err
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		unknown := "whether they were published is unknown"
		if first > 1 {
			unknown = fmt.Sprintf("lines 1-%d were published; whether lines %d-%d were is unknown", first-1, first, last)
		}
		return fmt.Errorf("pub: lines %d-%d: %w; %s", first, last, err, unknown)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(batch))*(herald.MaxIDLength+1)+64<<10))
	if err != nil {
		return fmt.Errorf("pub: lines %d-%d: reading the hub's answer: %w; whether they were published is unknown", first, last, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(answer))
		if resp.StatusCode == http.StatusRequestEntityTooLarge &&
			(strings.Contains(msg, "updates in one batch") || strings.Contains(msg, "request body is larger")) {
			msg += "; use a smaller --batch-size"
		}
		if n, err := strconv.Atoi(resp.Header.Get(mercure.BatchLineHeader)); err == nil && n >= 1 && n <= len(batch) {
			msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", n))
			return fmt.Errorf("pub: line %d: %s (the hub answered %s); %s", first+n-1, msg, resp.Status, published(first))
		}
		return fmt.Errorf("pub: lines %d-%d: the hub answered %s: %s; %s", first, last, resp.Status, msg, published(first))
	}
	if got := bytes.Count(answer, []byte("\n")); got != len(batch) || (len(answer) > 0 && answer[len(answer)-1] != '\n') {
		return fmt.Errorf("pub: lines %d-%d: the hub answered %d ids for %d lines: is %s a Herald hub?", first, last, got, len(batch), b.endpoint)
	}
	if _, err := stdout.Write(answer); err != nil {
		return fmt.Errorf("pub: %w", err)
	}
	return nil
}
