package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/mercure"
)

// TestDraft08PublicURLs: with --public-urls and no --resource-identifier,
// a draft-08 request sent to any other origin is answered 421 Misdirected
// Request (its resource identifier, the audience tokens must name, would
// come from a Host header the client chose), and one sent to a listed
// origin is served with that origin's identifier; draft-07 requests are
// not concerned. Bad values, or the flag beside --resource-identifier, are
// usage errors.
func TestDraft08PublicURLs(t *testing.T) {
	t.Parallel()
	const public = "https://hub.example:8443"
	h := serve08(t, "--public-urls=http://other.example, "+public+"/")
	// Sent to the hub's own address, which is not listed.
	for name, target := range map[string]string{
		"subscribe": h.base + mercure.Path + "?match=/t",
		"metadata":  h.metadataURL08(),
	} {
		resp, body := getWithHost(t, target, "")
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, public) {
			t.Errorf("%s at an origin not listed: %s %q, want 421 naming %s", name, resp.Status, body, public)
		}
	}
	resp, body := publishWith(t, h.base, bearer(accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("/t")))), url.Values{"topic": {"/t"}, "data": {"x"}})
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("a draft-08 publish at an origin not listed: %s %q, want 421", resp.Status, body)
	}

	// Sent with a listed origin's Host: served, with that origin's
	// identifier (plain HTTP here, so http://other.example).
	resp, body = getWithHost(t, h.metadataURL08(), "other.example")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"resource":"http://other.example`+mercure.Path+`"`) {
		t.Errorf("metadata at a listed origin: %s %q", resp.Status, body)
	}
	const listed = "http://other.example" + mercure.Path
	form := url.Values{"topic": {"/t"}, "data": {"x"}}
	req, _ := http.NewRequest(http.MethodPost, h.base+mercure.Path, strings.NewReader(form.Encode()))
	req.Host = "other.example"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+accessToken(t, listed, time.Hour, publish08(exact08("/t"))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a draft-08 publish at a listed origin, its token for %s: %s %q, want 200", listed, resp.Status, b)
	}

	// Draft 07 has no resource identifier: served at any origin.
	s := serveSubscribe(t, h.base, "topic=t", nil)
	if s.resp.StatusCode != http.StatusOK {
		t.Errorf("a draft-07 subscription: %s, want 200", s.resp.Status)
	}

	for _, args := range [][]string{
		{"--public-urls=ftp://hub.example"},
		{"--public-urls=https://hub.example/somewhere"},
		{"--public-urls=hub.example"},
		{"--public-urls=https://hub.example", "--resource-identifier=https://hub.example" + mercure.Path},
	} {
		err := run(context.Background(), append([]string{"serve", "--addr=127.0.0.1:0", "--store=memory:", "--demo=false"}, args...), strings.NewReader(""), io.Discard, io.Discard)
		if code := exitCode(err); err == nil || code != 2 || !strings.Contains(err.Error(), "--public-urls") {
			t.Errorf("serve %q: %v (exit code %d), want a usage error naming --public-urls", args, err, code)
		}
	}
}

// getWithHost GETs target with the Host header host ("" keeps the URL's),
// and returns the response and up to 4 KiB of its body (a stream is not
// read to its end).
func getWithHost(t *testing.T, target, host string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serveWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp, string(b)
}
