package mercure

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMisdirected: origins compare as the URL standard has them, whatever
// the case of the host and whether the scheme's default port is written;
// the scheme counts; without Config.PublicURLs every origin is served; and
// New refuses what is not an origin.
func TestMisdirected(t *testing.T) {
	hb := internalHub(t)
	h, err := New(Config{Hub: hb, PublicURLs: []string{"https://Hub.Example:443/", "http://[::1]:8080", "http://plain.example:80"}})
	if err != nil {
		t.Fatal(err)
	}
	open, err := New(Config{Hub: hb})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scheme, host string
		served       bool
	}{
		{"https", "hub.example", true},
		{"https", "HUB.example:443", true},
		{"http", "hub.example", false}, // another scheme
		{"https", "hub.example:8443", false},
		{"http", "[::1]:8080", true},
		{"http", "[::1]", false},
		{"http", "plain.example", true},
		{"http", "evil.example", false},
		{"https", "", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://x"+Path, nil)
		r.Host = tc.host
		if tc.scheme == "https" {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		if got := !h.misdirected(w, r); got != tc.served {
			t.Errorf("%s://%s: served %v, want %v", tc.scheme, tc.host, got, tc.served)
		}
		if !tc.served && w.Code != http.StatusMisdirectedRequest {
			t.Errorf("%s://%s: %d, want 421", tc.scheme, tc.host, w.Code)
		}
		if open.misdirected(httptest.NewRecorder(), r) {
			t.Errorf("%s://%s: refused by a hub without public URLs", tc.scheme, tc.host)
		}
	}
	for _, u := range []string{"hub.example", "ftp://hub.example", "https://hub.example/path", "https://user@hub.example", "https://hub.example?q"} {
		if _, err := New(Config{Hub: hb, PublicURLs: []string{u}}); err == nil {
			t.Errorf("public URL %q: no error", u)
		}
	}
	if _, err := New(Config{Hub: hb, PublicURLs: []string{"https://hub.example"}, ResourceIdentifier: "https://hub.example" + Path}); err == nil {
		t.Error("public URLs beside a resource identifier: no error")
	}
}
