package mercure_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/memory"
)

// TestPublishFields: every form field reaches subscribers as the protocol
// says, and the answer is 200 text/plain with the update's id.
func TestPublishFields(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	canonical, alternate := "https://example.com/books/1", "https://example.com/alternate/1"
	byCanonical := e.Subscribe(t, hubtest.Topics(canonical, hubtest.Sentinel), nil)
	byAlternate := e.Subscribe(t, hubtest.Topics(alternate, hubtest.Sentinel), nil)
	private := e.Subscribe(t, hubtest.Topics(canonical, hubtest.Sentinel), hubtest.Bearer(hubtest.SubscriberToken(t, alternate)))

	resp, body := e.Post(t, url.Values{
		"topic": {canonical, alternate},
		"data":  {"first line\nsecond line"},
		"id":    {"book-1-v2"},
		"type":  {"book.updated"},
		"retry": {"1500"},
	}.Encode(), hubtest.Bearer(hubtest.PublisherToken(t)))
	if resp.StatusCode != http.StatusOK || body != "book-1-v2" {
		t.Fatalf("publish: %s %q, want 200 with the given id as body", resp.Status, body)
	}
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", got)
	}
	privID := e.Publish(t, url.Values{"topic": {canonical, alternate}, "data": {"secret"}, "private": {"on"}})

	got := e.Flush(t, byCanonical, byAlternate, private)
	for i, name := range []string{"canonical", "alternate"} {
		evs := got[i]
		if len(evs) != 1 {
			t.Errorf("subscriber of the %s topic received %q, want only the public update", name, hubtest.Datas(evs))
			continue
		}
		ev := evs[0]
		if ev.ID != "book-1-v2" || ev.Type != "book.updated" || ev.Retry != 1500*time.Millisecond || ev.Data != "first line\nsecond line" {
			t.Errorf("subscriber of the %s topic received %+v", name, ev)
		}
	}
	if g := hubtest.IDs(got[2]); !slices.Equal(g, []string{"book-1-v2", privID}) {
		t.Errorf("authorized subscriber received %q, want the public and the private update", g)
	}
}

// TestPublishPrivateValues: "private" is true unless given as an explicit
// false value.
func TestPublishPrivateValues(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	anon := e.Subscribe(t, hubtest.Topics("t", hubtest.Sentinel), nil)
	public := map[string]bool{"on": false, "1": false, "true": false, "": false, "yes": false, "false": true, "0": true, "off": true}
	var want []string
	for v, isPublic := range public {
		id := e.Publish(t, url.Values{"topic": {"t"}, "data": {"private=" + v}, "private": {v}})
		if isPublic {
			want = append(want, id)
		}
	}
	got := hubtest.IDs(e.Flush(t, anon)[0])
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("anonymous subscriber received %q, want only the updates with private=false/0/off %q", got, want)
	}
}

// TestPublishGeneratedIDs: without an id the hub generates one, unique,
// increasing, in the urn:herald form, and sends it as the event id.
func TestPublishGeneratedIDs(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Store: memory.New(memory.Options{Instance: "gen"})})
	s := e.Subscribe(t, hubtest.Topics("t"), nil)
	var last uint64
	for i := range 5 {
		id := e.PublishData(t, fmt.Sprint(i), "t")
		inst, seq, ok := herald.ParseID(id)
		if !ok || inst != "gen" || seq <= last {
			t.Fatalf("generated id %q: instance %q seq %d (previous %d)", id, inst, seq, last)
		}
		last = seq
		if ev := s.Next(t); ev.ID != id || ev.Data != fmt.Sprint(i) {
			t.Fatalf("received %+v, want id %q", ev, id)
		}
	}
}

// TestPublishBadRequest: each invalid update gets a 400 whose message says
// what is wrong, and nothing is stored.
func TestPublishBadRequest(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{MaxTopics: 3}})
	for _, tc := range []struct {
		name, body, wantMsg string
	}{
		{"no topic", "data=x", "topic"},
		{"empty body", "", "topic"},
		{"empty topic", "topic=&data=x", "topic"},
		{"topic with LF", "topic=a%0Ab", "control"},
		{"topic with NUL", "topic=a%00b", "control"},
		{"topic with C1 control", "topic=a%C2%85b", "control"},
		{"topic not UTF-8", "topic=a%FF", "UTF-8"},
		{"topic too long", "topic=" + strings.Repeat("t", herald.MaxTopicLength+1), "limit"},
		{"second topic bad", "topic=ok&topic=a%01", "control"},
		{"too many topics", "topic=a&topic=b&topic=c&topic=d", "too many"},
		{"id with LF", "topic=t&id=a%0Ab", "id"},
		{"id with CR", "topic=t&id=a%0Db", "id"},
		{"id with NUL", "topic=t&id=a%00b", "id"},
		{"id starting with #", "topic=t&id=%23frag", "'#'"},
		{"id too long", "topic=t&id=" + strings.Repeat("i", herald.MaxIDLength+1), "id"},
		{"id earliest", "topic=t&id=earliest", "reserved"},
		{"id in the hub's namespace", "topic=t&id=urn:herald:x:1", "reserved"},
		// Ids a browser cannot send back intact in Last-Event-ID.
		{"id with U+0001", "topic=t&id=a%01b", "control character"},
		{"id with DEL", "topic=t&id=a%7Fb", "control character"},
		{"id with a C1 control", "topic=t&id=a%C2%85b", "control character"},
		{"id with a tab", "topic=t&id=a%09b", "control character"},
		{"id with a leading space", "topic=t&id=%20abc", "space"},
		{"id with a trailing space", "topic=t&id=abc%20", "space"},
		{"id not UTF-8", "topic=t&id=a%FFb", "UTF-8"},
		{"type with LF", "topic=t&type=a%0Ab", "type"},
		{"type with CR", "topic=t&type=a%0Db", "type"},
		{"retry not a number", "topic=t&retry=soon", "retry"},
		{"retry negative", "topic=t&retry=-1", "retry"},
		{"retry fractional", "topic=t&retry=1.5", "retry"},
		{"retry with sign", "topic=t&retry=%2B5", "retry"},
		{"retry with unit", "topic=t&retry=5s", "retry"},
		{"retry overflow", "topic=t&retry=99999999999999999999", "retry"},
		{"duplicate data", "topic=t&data=a&data=b", "data"},
		{"duplicate id", "topic=t&id=a&id=b", "id"},
		{"duplicate type", "topic=t&type=a&type=b", "type"},
		{"duplicate retry", "topic=t&retry=1&retry=2", "retry"},
		{"duplicate private", "topic=t&private=on&private=on", "private"},
		{"malformed form", "topic=%zz", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.Post(t, tc.body, hubtest.Bearer(hubtest.PublisherToken(t)))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("POST %q: %s %q, want 400", tc.body, resp.Status, body)
			}
			if mt := hubtest.MediaType(resp); mt != "text/plain" {
				t.Errorf("Content-Type %q, want text/plain", resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(body, tc.wantMsg) {
				t.Errorf("message %q does not mention %q", body, tc.wantMsg)
			}
		})
	}
	if last, _, _ := e.Store.Last(context.Background()); last != "" {
		t.Errorf("refused publishes stored an update: last id %q", last)
	}
}

// TestPublishBodyLimit: a body over Config.MaxBodyBytes gets a 413; one at
// the limit is accepted.
func TestPublishBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 256
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{MaxBodyBytes: limit}})
	at := "topic=t&data=" + strings.Repeat("x", limit-len("topic=t&data="))
	if resp, body := e.Post(t, at, hubtest.Bearer(hubtest.PublisherToken(t))); resp.StatusCode != http.StatusOK {
		t.Errorf("a %d-byte body: %s %q, want 200", len(at), resp.Status, body)
	}
	resp, body := e.Post(t, at+"y", hubtest.Bearer(hubtest.PublisherToken(t)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte body: %s %q, want 413", len(at)+1, resp.Status, body)
	}
	if !strings.Contains(body, fmt.Sprint(limit)) {
		t.Errorf("413 message %q does not give the limit", body)
	}
}

// TestPublishContentType: only form-encoded bodies are accepted.
func TestPublishContentType(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	for ct, want := range map[string]int{
		"application/x-www-form-urlencoded":                http.StatusOK,
		"application/x-www-form-urlencoded; charset=utf-8": http.StatusOK,
		"Application/X-WWW-Form-Urlencoded":                http.StatusOK,
		"text/plain":                                       http.StatusUnsupportedMediaType,
		"application/json":                                 http.StatusUnsupportedMediaType,
		"multipart/form-data; boundary=x":                  http.StatusUnsupportedMediaType,
		"not a media type;;":                               http.StatusUnsupportedMediaType,
	} {
		hdr := hubtest.Bearer(hubtest.PublisherToken(t))
		hdr.Set("Content-Type", ct)
		resp, body := e.Post(t, "topic=t&data=x", hdr)
		if resp.StatusCode != want {
			t.Errorf("Content-Type %q: %s %q, want %d", ct, resp.Status, body, want)
		}
	}
}

// TestPublishUnauthorized: a publish without a usable token gets a 401 that
// says why, with a WWW-Authenticate challenge, and stores nothing.
func TestPublishUnauthorized(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"mercure": map[string]any{"publish": []string{"*"}},
		"exp":     time.Now().Add(-time.Minute).Unix(),
	}).SignedString(hubtest.PubKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"no token", nil},
		{"not a bearer", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}},
		{"garbage", hubtest.Bearer("not.a.jwt")},
		{"bad signature", hubtest.Bearer(hubtest.Sign(t, []byte("another secret"), auth.Grant{Publish: []string{"*"}}))},
		{"subscriber key", hubtest.Bearer(hubtest.Sign(t, hubtest.SubKey, auth.Grant{Publish: []string{"*"}}))},
		{"expired", hubtest.Bearer(expired)},
		{"alg none", hubtest.Bearer(noneToken(t, map[string]any{"mercure": map[string]any{"publish": []string{"*"}}}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.Post(t, "topic=t&data=x", tc.hdr)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s, want 401 (%q)", resp.Status, body)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate header")
			}
			if strings.TrimSpace(body) == "" {
				t.Error("401 without a message")
			}
		})
	}
	if last, _, _ := e.Store.Last(context.Background()); last != "" {
		t.Errorf("unauthorized publishes stored an update: last id %q", last)
	}
}

// noneToken builds an unsigned token (alg "none") with claims.
func noneToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestPublishForbidden: a valid token whose mercure.publish claim does not
// select every topic of the update, or an update to the hub's own reserved
// topics, gets a 403.
func TestPublishForbidden(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	books := hubtest.Sign(t, hubtest.PubKey, auth.Grant{Publish: []string{"https://example.com/books/{id}"}})
	all := hubtest.PublisherToken(t)
	for _, tc := range []struct {
		name, token string
		topics      []string
		want        int
	}{
		{"claim selects the topic", books, []string{"https://example.com/books/1"}, http.StatusOK},
		{"claim does not select the topic", books, []string{"https://example.com/authors/1"}, http.StatusForbidden},
		{"claim selects only one of the topics", books, []string{"https://example.com/books/1", "https://example.com/authors/1"}, http.StatusForbidden},
		{"no publish claim", hubtest.Sign(t, hubtest.PubKey, auth.Grant{Subscribe: []string{"*"}}), []string{"t"}, http.StatusForbidden},
		{"empty publish claim", hubtest.Sign(t, hubtest.PubKey, auth.Grant{Publish: []string{}}), []string{"t"}, http.StatusForbidden},
		{"reserved path", all, []string{"/.well-known/mercure/subscriptions/t/urn:uuid:x"}, http.StatusForbidden},
		{"reserved hub path", all, []string{mercure.Path}, http.StatusForbidden},
		{"reserved path in a URL", all, []string{"https://example.com/.well-known/mercure/subscriptions/t/x"}, http.StatusForbidden},
		{"reserved alternate topic", all, []string{"t", "/.well-known/mercure/subscriptions/t/x"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.Post(t, url.Values{"topic": tc.topics, "data": {"x"}}.Encode(), hubtest.Bearer(tc.token))
			if resp.StatusCode != tc.want {
				t.Fatalf("publish to %q: %s %q, want %d", tc.topics, resp.Status, body, tc.want)
			}
			if tc.want == http.StatusForbidden && strings.TrimSpace(body) == "" {
				t.Error("403 without a message")
			}
		})
	}
}

// TestPublishCookieCSRF: a token sent in the mercureAuthorization cookie
// may publish only from the hub's own origin or an allowed one; a web page
// elsewhere gets a 403 even though the browser sent the cookie.
func TestPublishCookieCSRF(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{CORSOrigins: []string{"https://app.example"}}})
	cookie := (&http.Cookie{Name: auth.CookieName, Value: hubtest.PublisherToken(t)}).String()
	for _, tc := range []struct {
		name string
		hdr  http.Header
		want int
	}{
		{"no origin (not a browser)", http.Header{}, http.StatusOK},
		{"allowed origin", http.Header{"Origin": {"https://app.example"}}, http.StatusOK},
		{"same origin", http.Header{"Origin": {e.Server.URL}}, http.StatusOK},
		{"foreign origin", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"foreign referer", http.Header{"Referer": {"https://evil.example/page"}}, http.StatusForbidden},
		{"null origin", http.Header{"Origin": {"null"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.hdr.Set("Cookie", cookie)
			resp, body := e.Post(t, "topic=t&data=x", tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %q, want %d", resp.Status, body, tc.want)
			}
		})
	}
	// "*" lets any origin use the hub without credentials: a cookie from
	// an origin not listed explicitly still cannot publish.
	anyOrigin := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{CORSOrigins: []string{"*", "https://app.example"}}})
	for origin, want := range map[string]int{"https://evil.example": http.StatusForbidden, "https://app.example": http.StatusOK} {
		resp, body := anyOrigin.Post(t, "topic=t&data=x", http.Header{"Cookie": {cookie}, "Origin": {origin}})
		if resp.StatusCode != want {
			t.Errorf("cookie from %s with CORS origins * and https://app.example: %s %q, want %d", origin, resp.Status, body, want)
		}
	}
	// The same foreign origin may publish with a token in the header: a
	// page can only send that if it holds the token.
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	hdr.Set("Origin", "https://evil.example")
	if resp, body := e.Post(t, "topic=t&data=x", hdr); resp.StatusCode != http.StatusOK {
		t.Errorf("header token from a foreign origin: %s %q, want 200", resp.Status, body)
	}
}

// TestPublishWhileShuttingDown: once the hub is shutting down, publishes
// are refused with a 503, so that publishers retry (on another node).
func TestPublishWhileShuttingDown(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	e.Hub.CloseStreams()
	resp, body := e.Post(t, "topic=t&data=x", hubtest.Bearer(hubtest.PublisherToken(t)))
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(body) == "" {
		t.Errorf("publish while shutting down: %s %q, want 503 with a message", resp.Status, body)
	}
}

// TestPublishIDReused: an id held in history cannot be given to another
// update (409 Conflict, whatever its topic), so that resuming from it is
// exact; nothing is stored.
func TestPublishIDReused(t *testing.T) {
	t.Parallel()
	metrics := &publishMetrics{}
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{Metrics: metrics}})
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	if resp, body := e.Post(t, "topic=a&data=first&id=order-7", hdr); resp.StatusCode != http.StatusOK {
		t.Fatalf("first use: %s %q", resp.Status, body)
	}
	for _, body := range []string{"topic=a&data=again&id=order-7", "topic=b&data=elsewhere&id=order-7"} {
		resp, msg := e.Post(t, body, hdr)
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("POST %q: %s %q, want 409", body, resp.Status, msg)
		}
		if !strings.Contains(msg, "order-7") {
			t.Errorf("409 message %q does not name the id", msg)
		}
	}
	// Resuming from the id replays what followed its first use.
	next := e.PublishData(t, "next", "a")
	s := e.Subscribe(t, hubtest.Topics("a", "b"), http.Header{"Last-Event-ID": {"order-7"}})
	if got := hubtest.IDs(s.Until(t, next)); len(got) != 1 || got[0] != next {
		t.Errorf("resumed from order-7: %q, want only %q", got, next)
	}
	if got := metrics.count("conflict"); got != 2 {
		t.Errorf("publish errors counted as conflict: %d, want 2", got)
	}
}

// publishMetrics counts publish errors by reason.
type publishMetrics struct {
	mu     sync.Mutex
	errors map[string]int
}

func (m *publishMetrics) AuthFailure(string) {}
func (m *publishMetrics) PublishError(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.errors == nil {
		m.errors = map[string]int{}
	}
	m.errors[reason]++
}
func (m *publishMetrics) count(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.errors[reason]
}

// TestPublishDataLimit: Config.MaxDataBytes bounds the update's data as it
// will be sent, whatever its encoding in the form (non-ASCII JSON takes up to
// nine bytes per character there), while MaxBodyBytes bounds the raw body;
// each 413 says which limit was hit.
func TestPublishDataLimit(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{MaxDataBytes: 1000, MaxBodyBytes: 8000}})
	hdr := hubtest.Bearer(hubtest.PublisherToken(t))
	// 333 × "é" (2 bytes) = 666 bytes of data, 2,000 bytes in the form.
	at := url.Values{"topic": {"t"}, "data": {strings.Repeat("é", 333)}}.Encode()
	if resp, body := e.Post(t, at, hdr); resp.StatusCode != http.StatusOK {
		t.Errorf("666 bytes of data in a %d-byte body: %s %q, want 200", len(at), resp.Status, body)
	}
	over := url.Values{"topic": {"t"}, "data": {strings.Repeat("x", 1001)}}.Encode()
	resp, body := e.Post(t, over, hdr)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "data") || !strings.Contains(body, "1000") {
		t.Errorf("1,001 bytes of data: %s %q, want 413 naming the data limit of 1000", resp.Status, body)
	}
	huge := "topic=t&data=x&pad=" + strings.Repeat("p", 8000)
	resp, body = e.Post(t, huge, hdr)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "body") || !strings.Contains(body, "8000 bytes") {
		t.Errorf("a body over MaxBodyBytes: %s %q, want 413 naming the body limit of 8000", resp.Status, body)
	}
}

// TestPublishBodyTimeout: a body that does not arrive within
// Config.BodyTimeout gets a 408 and its connection is closed, with or
// without a token, so that a client sending it a byte at a time holds
// nothing for long.
func TestPublishBodyTimeout(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{BodyTimeout: 200 * time.Millisecond}})
	for _, tok := range []string{hubtest.PublisherToken(t), ""} {
		addr := strings.TrimPrefix(e.Server.URL, "http://")
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		auth := ""
		if tok != "" {
			auth = "Authorization: Bearer " + tok + "\r\n"
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ntopic=t&data=", mercure.Path, addr, auth)
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(hubtest.WaitTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("token %v: no answer: %v", tok != "", err)
		}
		resp.Body.Close()
		want := http.StatusRequestTimeout
		if tok == "" {
			want = http.StatusUnauthorized
		}
		if resp.StatusCode != want {
			t.Errorf("token %v: %s, want %d", tok != "", resp.Status, want)
		}
		// Whatever the answer, the connection does not wait for the rest.
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Errorf("token %v: the connection stayed open", tok != "")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("token %v: took %v", tok != "", d)
		}
	}
}
