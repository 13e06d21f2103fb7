package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"
)

// static holds the page. It is plain HTML, CSS and JavaScript: no build
// step, no external resource.
//
//go:embed static/index.html static/app.js static/style.css
var static embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	etag        string
	contentType string
}

var assets = map[string]asset{}

func init() {
	for name, ct := range map[string]string{
		"app.js":    "text/javascript; charset=utf-8",
		"style.css": "text/css; charset=utf-8",
	} {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			panic(err) // the embed directive above guarantees the file
		}
		assets[name] = asset{body: b, etag: etag(b), contentType: ct}
	}
}

var pageTemplate = template.Must(template.ParseFS(static, "static/index.html"))

// pageData is what index.html is rendered with: the page reads it from
// data- attributes of its <body>.
type pageData struct {
	HubURL     string
	Topic      string
	Publish    bool
	MaxBytes   int
	IntervalMS int64
	Assets     map[string]string // name -> URL with a version
}

func (d *Demo) renderPage() error {
	data := pageData{
		HubURL:     d.cfg.HubURL,
		Topic:      d.cfg.Topic,
		Publish:    d.cfg.AllowPublish,
		MaxBytes:   d.cfg.MaxMessageBytes,
		IntervalMS: d.cfg.Interval.Milliseconds(),
		Assets:     map[string]string{},
	}
	for name, a := range assets {
		data.Assets[name] = "assets/" + name + "?v=" + strings.Trim(a.etag, `"`)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		return fmt.Errorf("web: rendering the page: %w", err)
	}
	d.page = buf.Bytes()
	connect := "'self'"
	if d.cfg.HubURL != "" {
		connect += " " + d.cfg.HubURL
	}
	d.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return nil
}

func (d *Demo) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", d.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(d.page))
}

func (d *Demo) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[path.Clean(r.PathValue("name"))]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", a.etag)
	if r.URL.Query().Get("v") != "" {
		// Versioned URL: its content never changes.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}
