package auth_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/herald-sse/herald/auth"
)

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		headers []string // Authorization header values
		query   string
		cookie  string
		empty   bool // send an empty mercureAuthorization cookie
		token   string
		from    auth.Source
	}{
		{name: "nothing", from: auth.SourceNone},
		{name: "header", headers: []string{"Bearer h.h.h"}, token: "h.h.h", from: auth.SourceHeader},
		{name: "header scheme case", headers: []string{"bearer h.h.h"}, token: "h.h.h", from: auth.SourceHeader},
		{name: "header first", headers: []string{"Bearer h.h.h"}, query: "authorization=q.q.q", cookie: "c.c.c", token: "h.h.h", from: auth.SourceHeader},
		{name: "query before cookie", query: "topic=x&authorization=q.q.q", cookie: "c.c.c", token: "q.q.q", from: auth.SourceQuery},
		{name: "cookie", query: "topic=x", cookie: "c.c.c", token: "c.c.c", from: auth.SourceCookie},
		{name: "escaped query", query: "authorization=q%2Eq.q", token: "q.q.q", from: auth.SourceQuery},
		// A malformed credential stops the search: no fallback.
		{name: "basic auth", headers: []string{"Basic dXNlcjpwYXNz"}, cookie: "c.c.c", from: auth.SourceHeader},
		{name: "bearer without token", headers: []string{"Bearer"}, cookie: "c.c.c", from: auth.SourceHeader},
		{name: "two headers", headers: []string{"Bearer a.a.a", "Bearer b.b.b"}, from: auth.SourceHeader},
		{name: "two query values", query: "authorization=a.a.a&authorization=b.b.b", cookie: "c.c.c", from: auth.SourceQuery},
		{name: "empty query value", query: "authorization=", cookie: "c.c.c", from: auth.SourceQuery},
		{name: "empty cookie", empty: true, from: auth.SourceCookie},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/.well-known/mercure?"+tt.query, nil)
		for _, h := range tt.headers {
			r.Header.Add("Authorization", h)
		}
		if tt.cookie != "" {
			r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tt.cookie})
		}
		if tt.empty {
			r.Header.Set("Cookie", "other=1; "+auth.CookieName+"=")
		}
		token, from := auth.TokenFromRequest(r)
		if token != tt.token || from != tt.from {
			t.Errorf("%s: TokenFromRequest = %q, %v; want %q, %v", tt.name, token, from, tt.token, tt.from)
		}
	}
}

func TestSourceString(t *testing.T) {
	for s, want := range map[auth.Source]string{auth.SourceNone: "none", auth.SourceHeader: "header", auth.SourceQuery: "query", auth.SourceCookie: "cookie"} {
		if got := s.String(); got != want {
			t.Errorf("Source(%d).String() = %q, want %q", s, got, want)
		}
	}
}

// TestTokenOverHTTP sends a token in each location through a real server
// and client, as a hub handler would receive it.
func TestTokenOverHTTP(t *testing.T) {
	v := mustVerifier(t, auth.Config{Keys: [][]byte{[]byte(secret)}})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, from := auth.TokenFromRequest(r)
		if tok == "" {
			fmt.Fprintf(w, "%s: no token", from)
			return
		}
		c, err := v.Verify(tok)
		if err != nil {
			fmt.Fprintf(w, "%s: %v", from, err)
			return
		}
		fmt.Fprintf(w, "%s: %s", from, c.Subject)
	}))
	defer ts.Close()

	tok := mustSign(t, "HS256", []byte(secret), auth.Grant{Subject: "carol"})
	get := func(req *http.Request) string {
		t.Helper()
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if got := get(req); got != "header: carol" {
		t.Errorf("header: got %q", got)
	}
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"?authorization="+tok, nil)
	if got := get(req); got != "query: carol" {
		t.Errorf("query: got %q", got)
	}
	req, _ = http.NewRequest(http.MethodGet, ts.URL, nil)
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tok})
	if got := get(req); got != "cookie: carol" {
		t.Errorf("cookie: got %q", got)
	}
	req, _ = http.NewRequest(http.MethodGet, ts.URL, nil)
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tok + "x"})
	if got, want := get(req), "cookie: herald: unauthorized: invalid signature: no configured key verifies this HS256 token"; got != want {
		t.Errorf("tampered cookie: got %q, want %q", got, want)
	}
}
