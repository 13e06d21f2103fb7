package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/mercure"
)

// postBatch posts an NDJSON body to the hub's batch endpoint with the
// headers hdr, and returns the response and its body.
func postBatch(t *testing.T, base string, hdr http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+mercure.BatchPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestDraft08Batch: the batch endpoint takes draft-08 access tokens too:
// each update is authorized by the token's authorization details and held
// to draft 08's publish rules, as a form publish with that token is; a hub
// that speaks draft 07 only refuses them, and one that speaks draft 08 only
// refuses draft-07 tokens there as on the publish endpoint. herald pub
// --batch --draft 08 publishes through it.
func TestDraft08Batch(t *testing.T) {
	t.Parallel()
	h := serve08(t)
	some := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("a"), pattern08("/books/:id")))
	s := serveSubscribe(t, h.base, "match=a&match_urlpattern=/books/:id", nil)
	resp, body := postBatch(t, h.base, bearer(some), `{"topic":"a","data":"1"}`+"\n"+`{"topic":"/books/7","data":"2","id":"b7"}`+"\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a draft-08 batch: %s %q", resp.Status, body)
	}
	ids := strings.Fields(body)
	if len(ids) != 2 || ids[1] != "b7" {
		t.Fatalf("ids %q", body)
	}
	for i, want := range []string{"1", "2"} {
		if ev := s.next(t); ev.Data != want || ev.ID != ids[i] {
			t.Errorf("event %d: %+v, want %q with id %q", i, ev, want, ids[i])
		}
	}

	all := accessToken(t, h.hubURL08(), time.Hour, publish08(exact08("*")))
	for _, tc := range []struct {
		name   string
		tok    string
		line   string
		status int
		want   string
	}{
		{"a topic the token does not grant", some, `{"topic":"b"}`, 403, "line 2"},
		{"the topic *", all, `{"topic":"*"}`, 400, `"*" is reserved`},
		{"a format character", all, `{"topic":"t\u202e"}`, 400, "U+202E"},
		{"the reserved namespace", all, `{"topic":"/.well-known/mercure/subscriptions/exact/a/b"}`, 400, "reserved namespace"},
		{"type mercure", all, `{"topic":"t","type":"mercure"}`, 400, "reserved"},
	} {
		resp, body := postBatch(t, h.base, bearer(tc.tok), `{"topic":"a"}`+"\n"+tc.line)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) || resp.Header.Get(mercure.BatchLineHeader) != "2" {
			t.Errorf("%s: %s %q (line %q), want %d with %q, line 2", tc.name, resp.Status, body, resp.Header.Get(mercure.BatchLineHeader), tc.status, tc.want)
		}
	}
	resp, body = postBatch(t, h.base, bearer(accessToken(t, "https://elsewhere.example"+mercure.Path, time.Hour, publish08(exact08("*")))), `{"topic":"a"}`)
	wantChallenge(t, "a token for another hub", resp, body, http.StatusUnauthorized, auth.CodeInvalidToken, h.metadataURL08())

	old := serveHub(t, "--jwt-key="+serveTestKey, "--issuer="+issuer08+"="+issuerKey08, "--protocol=07")
	if resp, body := postBatch(t, old.base, bearer(accessToken(t, old.hubURL08(), time.Hour, publish08(exact08("*")))), `{"topic":"a"}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a draft-08 batch to a draft-07 hub: %s %q, want 400", resp.Status, body)
	}
	only08 := serve08(t, "--protocol=08")
	if resp, body := postBatch(t, only08.base, bearer(serveToken(t, serveTestKey, auth.Grant{Publish: []string{"*"}})), `{"topic":"a"}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a draft-07 batch to a draft-08 hub: %s %q, want 400", resp.Status, body)
	}

	out, errOut, err := pub(t, strings.NewReader(`{"topic":"a","data":"3"}`+"\n"), "--batch", "--hub", h.base, "--draft", "08", "--issuer", issuer08, "--jwt-key", issuerKey08)
	if err != nil {
		t.Fatalf("pub --batch --draft 08: %v (%s)", err, errOut)
	}
	if ev := s.next(t); ev.Data != "3" || ev.ID+"\n" != out {
		t.Errorf("pub --batch --draft 08 printed %q; the subscriber got %+v", out, ev)
	}
}
