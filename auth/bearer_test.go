package auth_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

func TestAccessTokenFromRequest(t *testing.T) {
	tests := []struct {
		name     string
		headers  []string
		cookie   string
		url      string
		token    string
		from     auth.Source
		wantErr  error
		wantCode string
	}{
		{name: "nothing", url: "/", from: auth.SourceNone},
		{name: "header", headers: []string{"Bearer abc.def.ghi"}, token: "abc.def.ghi", from: auth.SourceHeader},
		{name: "scheme case", headers: []string{"bearer abc"}, token: "abc", from: auth.SourceHeader},
		{name: "header wins over cookie", headers: []string{"Bearer h"}, cookie: "c", token: "h", from: auth.SourceHeader},
		{name: "cookie", cookie: "c.o.k", token: "c.o.k", from: auth.SourceCookie},
		{name: "query never", url: "/?authorization=q&access_token=q", from: auth.SourceNone},
		{name: "basic", headers: []string{"Basic dXNlcjpwdw=="}, cookie: "c", from: auth.SourceHeader, wantErr: auth.ErrNoToken},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, from: auth.SourceHeader, wantErr: herald.ErrInvalid, wantCode: auth.CodeInvalidRequest},
		{name: "empty bearer", headers: []string{"Bearer "}, from: auth.SourceHeader, wantErr: herald.ErrInvalid, wantCode: auth.CodeInvalidRequest},
		{name: "bearer with space", headers: []string{"Bearer a b"}, from: auth.SourceHeader, wantErr: herald.ErrInvalid, wantCode: auth.CodeInvalidRequest},
		{name: "empty cookie", cookie: "", url: "/", from: auth.SourceCookie, wantErr: herald.ErrInvalid, wantCode: auth.CodeInvalidRequest},
	}
	for _, tt := range tests {
		url := tt.url
		if url == "" {
			url = "/.well-known/mercure"
		}
		r := httptest.NewRequest("GET", url, nil)
		for _, h := range tt.headers {
			r.Header.Add("Authorization", h)
		}
		if tt.cookie != "" || tt.name == "empty cookie" {
			r.AddCookie(&http.Cookie{Name: auth.AccessCookieName, Value: tt.cookie})
		}
		tok, from, err := auth.AccessTokenFromRequest(r, "")
		if tok != tt.token || from != tt.from || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%s: = %q, %v, %v; want %q, %v, %v", tt.name, tok, from, err, tt.token, tt.from, tt.wantErr)
		}
		if err != nil {
			status, code, ok := auth.BearerError(err)
			wantStatus := http.StatusUnauthorized
			if tt.wantCode == auth.CodeInvalidRequest {
				wantStatus = http.StatusBadRequest
			}
			if !ok || status != wantStatus || code != tt.wantCode {
				t.Errorf("%s: BearerError = %d %q %v, want %d %q", tt.name, status, code, ok, wantStatus, tt.wantCode)
			}
		}
	}
	// Another cookie name.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "mercure_access_token", Value: "t"})
	if tok, from, err := auth.AccessTokenFromRequest(r, "mercure_access_token"); tok != "t" || from != auth.SourceCookie || err != nil {
		t.Errorf("custom cookie name: %q %v %v", tok, from, err)
	}
}

func TestBearerError(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		code   string
		ok     bool
	}{
		{fmt.Errorf("%w: expired", herald.ErrUnauthorized), 401, auth.CodeInvalidToken, true},
		{fmt.Errorf("%w: may not publish to x", herald.ErrForbidden), 403, auth.CodeInsufficientScope, true},
		{fmt.Errorf("%w: two headers", herald.ErrInvalid), 400, auth.CodeInvalidRequest, true},
		{errors.New("disk full"), 0, "", false},
	} {
		status, code, ok := auth.BearerError(tt.err)
		if status != tt.status || code != tt.code || ok != tt.ok {
			t.Errorf("BearerError(%v) = %d %q %v, want %d %q %v", tt.err, status, code, ok, tt.status, tt.code, tt.ok)
		}
	}
}

func TestChallenge(t *testing.T) {
	const meta = "https://hub.example.com/.well-known/oauth-protected-resource/.well-known/mercure"
	for _, tt := range []struct {
		code, desc, meta, want string
	}{
		{"", "ignored", meta, `Bearer resource_metadata="` + meta + `"`},
		{auth.CodeInvalidToken, `token expired at "now"\`, meta, `Bearer error="invalid_token", error_description="token expired at ?now??", resource_metadata="` + meta + `"`},
		{auth.CodeInsufficientScope, "", "", `Bearer error="insufficient_scope"`},
		{"", "", "", "Bearer"},
		{auth.CodeInvalidRequest, "caf\u00e9\n", "", `Bearer error="invalid_request", error_description="caf??"`},
	} {
		if got := auth.Challenge(tt.code, tt.desc, tt.meta); got != tt.want {
			t.Errorf("Challenge(%q, %q, %q) = %s, want %s", tt.code, tt.desc, tt.meta, got, tt.want)
		}
	}
}

func TestIsAccessToken(t *testing.T) {
	at := mustSignAccess(t, auth.AccessGrant{})
	legacy := mustSign(t, "HS256", []byte(secret), auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
	header := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) + ".x.y" }
	for tok, want := range map[string]bool{
		at: true, legacy: false, "": false, "x.y.z": false, "eyJ0eXAiOiJhdCtqd3QifQ.x.y": true,
		header(`{"alg":"HS256","typ":"AT+JWT"}`):     true,
		header(`{"typ":"application/at+jwt"}`):       true,
		header(`{"typ":"\u0061t+jwt"}`):              true, // escaped
		header(`{"typ":"JWT","cty":"at+jwt"}`):       false,
		header(`{"typ":"JWT","x":{"typ":"at+jwt"}}`): false,
		header(`{"typ":"at+jwt","typ":"JWT"}`):       false, // the last one counts, as for encoding/json
		header(`{"typ":"at+jwt"`):                    false, // malformed
		header(`{"typ":"at+jwt"} trailing`):          false,
	} {
		if got := auth.IsAccessToken(tok); got != want {
			t.Errorf("IsAccessToken(%.40q) = %v, want %v", tok, got, want)
		}
	}
}

// TestIsAccessTokenOfDraft07TokensCostsNoAllocation: a hub asks it of every
// publish; a draft-07 token, the common case, must cost no allocation.
func TestIsAccessTokenOfDraft07TokensCostsNoAllocation(t *testing.T) {
	legacy := mustSign(t, "HS256", []byte(secret), auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
	if allocs := testing.AllocsPerRun(100, func() { auth.IsAccessToken(legacy) }); allocs != 0 {
		t.Errorf("IsAccessToken of a draft-07 token: %v allocations, want 0", allocs)
	}
}
