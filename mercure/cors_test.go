package mercure_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
)

// preflight sends a CORS preflight from origin for a subscription with
// credentials and the headers a client sends.
func preflight(t *testing.T, e *hubtest.Env, suffix, origin string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hubtest.WaitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, e.URL+suffix, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization,last-event-id")
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestCORS: browsers on a listed origin may subscribe and publish with
// credentials: preflights and responses name that origin; other origins get
// no CORS header; "*" allows every origin without credentials
// (Access-Control-Allow-Origin: *, never with Allow-Credentials), so that no
// site can use the hub's cookie of a logged-in user.
func TestCORS(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m, Mercure: mercure.Config{CORSOrigins: []string{"https://app.example", "https://admin.example"}}})
			anyOrigin := hubtest.New(t, hubtest.Config{Mode: m, Mercure: mercure.Config{CORSOrigins: []string{"*"}}})
			none := hubtest.New(t, hubtest.Config{Mode: m})
			for _, tc := range []struct {
				name    string
				env     *hubtest.Env
				suffix  string
				origin  string
				allowed bool
			}{
				{"allowed origin", e, "?" + hubtest.Topics("t"), "https://app.example", true},
				{"second allowed origin", e, "?" + hubtest.Topics("t"), "https://admin.example", true},
				{"subscriptions API", e, "/subscriptions", "https://app.example", true},
				{"other origin", e, "?" + hubtest.Topics("t"), "https://evil.example", false},
				{"origin prefix", e, "?" + hubtest.Topics("t"), "https://app.example.evil.example", false},
				{"any origin", anyOrigin, "?" + hubtest.Topics("t"), "https://whoever.example", true},
				{"any origin, publishing", anyOrigin, "", "https://whoever.example", true},
				{"no origins configured", none, "?" + hubtest.Topics("t"), "https://app.example", false},
			} {
				resp := preflight(t, tc.env, tc.suffix, tc.origin)
				h := resp.Header
				if resp.StatusCode >= 300 {
					t.Errorf("%s: preflight answered %s", tc.name, resp.Status)
				}
				if !tc.allowed {
					if got := h.Get("Access-Control-Allow-Origin"); got != "" {
						t.Errorf("%s: Access-Control-Allow-Origin %q for origin %s", tc.name, got, tc.origin)
					}
					if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
						t.Errorf("%s: Access-Control-Allow-Credentials %q for origin %s", tc.name, got, tc.origin)
					}
					continue
				}
				wantOrigin, wantCredentials := tc.origin, "true"
				if tc.env == anyOrigin {
					wantOrigin, wantCredentials = "*", ""
				}
				if got := h.Get("Access-Control-Allow-Origin"); got != wantOrigin {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", tc.name, got, wantOrigin)
				}
				if got := h.Get("Access-Control-Allow-Credentials"); got != wantCredentials {
					t.Errorf("%s: Access-Control-Allow-Credentials %q, want %q", tc.name, got, wantCredentials)
				}
				for _, hdr := range []string{"Authorization", "Last-Event-ID"} {
					if !hasToken(h.Get("Access-Control-Allow-Headers"), hdr) {
						t.Errorf("%s: Access-Control-Allow-Headers %q lacks %s", tc.name, h.Get("Access-Control-Allow-Headers"), hdr)
					}
				}
				for _, method := range []string{"GET", "POST"} {
					if !hasToken(h.Get("Access-Control-Allow-Methods"), method) {
						t.Errorf("%s: Access-Control-Allow-Methods %q lacks %s", tc.name, h.Get("Access-Control-Allow-Methods"), method)
					}
				}
				if tc.env != anyOrigin && !hasToken(h.Get("Vary"), "Origin") {
					t.Errorf("%s: Vary %q lacks Origin", tc.name, h.Get("Vary"))
				}
			}

			// The stream itself carries the CORS headers, and exposes
			// Last-Event-ID to scripts.
			s := e.Subscribe(t, hubtest.Topics("t"), http.Header{"Origin": {"https://app.example"}})
			if got := s.Response.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
				t.Errorf("stream: Access-Control-Allow-Origin %q", got)
			}
			if got := s.Response.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("stream: Access-Control-Allow-Credentials %q", got)
			}
			if !hasToken(s.Response.Header.Get("Access-Control-Expose-Headers"), "Last-Event-ID") {
				t.Errorf("stream: Access-Control-Expose-Headers %q lacks Last-Event-ID", s.Response.Header.Get("Access-Control-Expose-Headers"))
			}
			// With "*", the stream allows any origin, without credentials.
			s = anyOrigin.Subscribe(t, hubtest.Topics("t"), http.Header{"Origin": {"https://whoever.example"}})
			if got := s.Response.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("stream with *: Access-Control-Allow-Origin %q, want *", got)
			}
			if got := s.Response.Header.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("stream with *: Access-Control-Allow-Credentials %q, want none", got)
			}
			// So does a publish answer.
			hdr := hubtest.Bearer(hubtest.PublisherToken(t))
			hdr.Set("Origin", "https://app.example")
			resp, _ := e.Post(t, "topic=t&data=x", hdr)
			if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != http.StatusOK || got != "https://app.example" {
				t.Errorf("publish: %s, Access-Control-Allow-Origin %q", resp.Status, got)
			}
		})
	}
}

// hasToken reports whether the comma-separated header list holds tok
// (case-insensitively).
func hasToken(list, tok string) bool {
	return slices.ContainsFunc(strings.Split(list, ","), func(s string) bool {
		return strings.EqualFold(strings.TrimSpace(s), tok)
	})
}
