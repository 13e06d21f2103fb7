package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/herald-sse/herald/web"
)

// TestHeraldJS: the hub serves herald.js at a stable path, so that a page on
// any origin can import it with no build step: exactly the package's file, as
// a JavaScript module, revalidated, gzipped for clients that accept it.
func TestHeraldJS(t *testing.T) {
	s := newDemoServer(t, web.Config{})
	want, err := os.ReadFile("herald-js/herald.js")
	if err != nil {
		t.Fatal(err)
	}
	get := func(hdr http.Header) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+web.HeraldJSPath, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		// A transport that does not add Accept-Encoding or decompress.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}

	resp, body := get(http.Header{"Origin": {"https://app.example"}})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("GET %s: %d, %d bytes; want 200 and herald-js/herald.js (%d bytes)", web.HeraldJSPath, resp.StatusCode, len(body), len(want))
	}
	for k, v := range map[string]string{
		"Content-Type":                "text/javascript; charset=utf-8",
		"Access-Control-Allow-Origin": "*", // module scripts from another origin are fetched with CORS
		"Cache-Control":               "no-cache",
		"X-Content-Type-Options":      "nosniff",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("ETag %q, Content-Encoding %q: want an ETag and no encoding", etag, resp.Header.Get("Content-Encoding"))
	}

	resp, body = get(http.Header{"Accept-Encoding": {"br, gzip, deflate"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("with Accept-Encoding gzip: Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	gzETag := resp.Header.Get("ETag")
	if gzETag == "" || gzETag == etag {
		t.Errorf("the gzipped ETag is %q, the plain one %q: want two different ETags", gzETag, etag)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, want) || len(body) >= len(want)/2 {
		t.Errorf("gzipped: %d bytes that decompress to %d; want herald.js in under half its size", len(body), len(unzipped))
	}

	resp, _ = get(http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	resp, _ = get(http.Header{"If-None-Match": {gzETag}, "Accept-Encoding": {"gzip"}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with gzip: %d, want 304", resp.StatusCode)
	}
}
