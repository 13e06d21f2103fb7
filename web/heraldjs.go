package web

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"net/http"
	"strings"
	"time"
)

// HeraldJSPath is where the hub serves herald.js, the browser client (the
// npm package in herald-js/), so that a page on any origin can
// import { createClient } from '<hub>/herald.js' with no build step.
const HeraldJSPath = "/herald.js"

//go:embed herald-js/herald.js
var heraldJS []byte

// heraldJSAsset is herald.js as served, plain and gzipped.
var heraldJSAsset, heraldJSGzip = func() (asset, asset) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(heraldJS)
	_ = zw.Close()
	const ct = "text/javascript; charset=utf-8"
	plain := asset{body: heraldJS, etag: etag(heraldJS), contentType: ct}
	// Another representation, another strong ETag.
	gz := asset{body: buf.Bytes(), etag: strings.TrimSuffix(plain.etag, `"`) + `-gz"`, contentType: ct}
	return plain, gz
}()

// serveHeraldJS serves herald.js: public, for any origin (module scripts
// from another origin are fetched with CORS), revalidated on each use since
// its path never changes, and gzipped for clients that accept it.
func (d *Demo) serveHeraldJS(w http.ResponseWriter, r *http.Request) {
	a := heraldJSAsset
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		a = heraldJSGzip
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip (and
// does not refuse it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
