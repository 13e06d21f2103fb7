package mercure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/store/memory"
)

// refForm is what the handler read before parseForm: url.ParseQuery's
// values and error, with the topics cut to maxTopics as parseForm keeps
// them.
func refForm(body string, maxTopics int) (publishForm, error) {
	vs, err := url.ParseQuery(body)
	if err != nil {
		return publishForm{}, err
	}
	f := formFromValues(vs)
	if len(f.topics) > maxTopics {
		f.topics = f.topics[:maxTopics]
	}
	return f, nil
}

// parseBody parses body as the handler does, reading it from r with
// ContentLength size.
func parseBody(r io.Reader, size int64, maxTopics int) (publishForm, error) {
	fb := formBufs.Get().(*formBuf)
	defer fb.release()
	var err error
	if fb.b, err = readBody(fb.b[:0], r, size, DefaultMaxBodyBytes); err != nil {
		return publishForm{}, err
	}
	f, err := fb.parse(maxTopics)
	// The values must not be in the buffer, which the next body reuses.
	for i := range fb.b[:cap(fb.b)] {
		fb.b[:cap(fb.b)][i] = '!'
	}
	return f, err
}

// sameForm reports how got differs from want, or "".
func sameForm(got, want publishForm) string {
	if got.nTopics != want.nTopics || !slices.Equal(got.topics, want.topics) {
		return fmt.Sprintf("%d topics %q, want %d %q", got.nTopics, got.topics, want.nTopics, want.topics)
	}
	for k, name := range fieldNames {
		if got.n[k] != want.n[k] || got.vals[k] != want.vals[k] {
			return fmt.Sprintf("%s given %d times, first %q; want %d, %q", name, got.n[k], got.vals[k], want.n[k], want.vals[k])
		}
	}
	return ""
}

func sameError(got, want error) bool {
	if got == nil || want == nil {
		return got == want
	}
	return got.Error() == want.Error()
}

// checkForm compares parseForm with url.ParseQuery on body, read from r
// with size announced.
func checkForm(t *testing.T, body string, r io.Reader, size int64, maxTopics int) {
	t.Helper()
	want, wantErr := refForm(body, maxTopics)
	got, err := parseBody(r, size, maxTopics)
	if !sameError(err, wantErr) {
		t.Fatalf("%q: error %v, url.ParseQuery's %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	if diff := sameForm(got, want); diff != "" {
		t.Fatalf("%q: %s", body, diff)
	}
}

// FuzzForm: parseForm agrees with url.ParseQuery on every body, error or
// values, whatever the reads the body comes in and the length announced.
//
//	go test -run '^$' -fuzz FuzzForm -fuzztime 60s ./mercure/
func FuzzForm(f *testing.F) {
	for _, body := range []string{
		"",
		"&",
		"&&topic=a&&",
		"topic",
		"topic=",
		"=",
		"=x",
		"topic=a&topic=b&data=x&id=i&type=t&retry=10&private=on",
		"topic=a+b%20c&data=%0A%0D%00%FF",
		"to%70ic=a&%64ata=b&data=c&d%61ta=d",
		"topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&data=%7B%22a%22%3A+1%7D",
		"topic=%zz",
		"topic=a&%zz=b",
		"x=%&topic=a",
		"x=%4&topic=a",
		"x=a%4",
		"topic=a;data=b",
		"topic=%zz&x=;",
		"topic=a=b=c",
		"private&private=&private=0",
		"topic+=a&topic%20=b&+topic=c",
		"very+long+key+name+that+is+not+a+field=1",
		"%74%6F%70%69%63=x",
		"toPic=x&TOPIC=y",
	} {
		f.Add([]byte(body), uint8(3), uint8(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, maxTopics, chunk, sizeMode uint8) {
		maxT := int(maxTopics%8) + 1
		var r io.Reader = bytes.NewReader(body)
		switch chunk % 4 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		case 3:
			r = iotest.DataErrReader(r)
		}
		size := int64(len(body))
		switch sizeMode % 4 {
		case 1:
			size = -1
		case 2:
			size /= 2
		case 3:
			size = size*2 + 1
		}
		checkForm(t, string(body), r, size, maxT)
	})
}

func TestParseForm(t *testing.T) {
	for _, body := range []string{
		"",
		"&",
		"&&&",
		"topic=a&",
		"&topic=a",
		"topic",
		"topic&data",
		"topic=&data=",
		"=",
		"=x&topic=a",
		"topic=a+b&data=a%20b+c",
		"topic=%E2%82%AC&data=%e2%82%ac",
		"topic=%zz",
		"topic=%",
		"topic=%2",
		"topic=a%2",
		"data=%2G&topic=a",
		"%zz=1&topic=a",
		"x=%zz&topic=a",
		"x=%GG;&topic=a",
		"topic=%zz&x=%yy",
		";",
		"topic=a;b",
		"topic=a&data=b;c",
		"topic=a&topic=b&topic=c&topic=d&topic=e",
		"data=a&data=b&id=1&id=2&id=3&type=&type=x&retry=1&retry=&private&private",
		"to%70ic=a&%64ata=b",
		"topic=a=b&data==",
		"top%69c=x&data%3Dy=z",
		"topi=x&topics=y&Topic=z&topic%00=w",
		strings.Repeat("&", maxParams-1),
		strings.Repeat("&", maxParams),
		strings.Repeat("topic=a&", maxParams),
		"topic=t&data=" + strings.Repeat("x%0A+", 10000),
		strings.Repeat("+", 1000) + "=" + strings.Repeat("+%", 1000),
	} {
		for _, maxTopics := range []int{1, 3, 100} {
			checkForm(t, body, strings.NewReader(body), int64(len(body)), maxTopics)
		}
	}
	if !defaultParamLimit() {
		t.Error("url.ParseQuery's parameter limit is not the default; GODEBUG urlmaxqueryparams is set?")
	}
}

// TestParseFormValues pins a few results down, beyond agreeing with
// url.ParseQuery.
func TestParseFormValues(t *testing.T) {
	f, err := parseBody(strings.NewReader("topic=a+b&to%70ic=%2Fc&data=x%20y+z&data=2&private&id=&x=1"), -1, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.topics, []string{"a b", "/c"}) || f.nTopics != 2 {
		t.Errorf("topics %q", f.topics)
	}
	if f.vals[fieldData] != "x y z" || f.n[fieldData] != 2 {
		t.Errorf("data %q given %d times", f.vals[fieldData], f.n[fieldData])
	}
	if f.n[fieldPrivate] != 1 || f.vals[fieldPrivate] != "" || f.n[fieldID] != 1 || f.n[fieldType] != 0 {
		t.Errorf("counts %v", f.n)
	}
	for body, msg := range map[string]string{
		"topic=%zz":          `invalid URL escape "%zz"`,
		"topic=a%2":          `invalid URL escape "%2"`,
		"topic=%zz&x=a;b":    "invalid semicolon separator in query",
		"topic=a&" + "x=%GG": `invalid URL escape "%GG"`,
	} {
		if _, err := parseBody(strings.NewReader(body), -1, 64); err == nil || err.Error() != msg {
			t.Errorf("%q: error %v, want %q", body, err, msg)
		}
	}
}

func TestReadBody(t *testing.T) {
	const limit = 100
	body := strings.Repeat("x", limit)
	for _, size := range []int64{-1, 0, 10, limit - 1, limit, limit + 1, 1 << 40} {
		for name, r := range map[string]func(string) io.Reader{
			"plain":    func(s string) io.Reader { return strings.NewReader(s) },
			"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
			"data+EOF": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
		} {
			b, err := readBody(nil, r(body), size, limit)
			if err != nil || string(b) != body {
				t.Errorf("%s, size %d: %d bytes, %v; want the %d bytes", name, size, len(b), err, limit)
			}
			_, err = readBody(make([]byte, 0, 7), r(body+"y"), size, limit)
			if mbe, ok := errors.AsType[*http.MaxBytesError](err); !ok || mbe.Limit != limit {
				t.Errorf("%s, size %d: %d bytes read: error %v, want a MaxBytesError", name, size, limit+1, err)
			}
		}
	}
	timeout := iotest.TimeoutReader(strings.NewReader(body))
	if _, err := readBody(nil, timeout, limit, limit); err != iotest.ErrTimeout {
		t.Errorf("error %v, want the reader's", err)
	}
	// A buffer too small for the announced size is replaced, once.
	b, err := readBody(make([]byte, 0, 4), strings.NewReader(body), limit, limit)
	if err != nil || string(b) != body || cap(b) != limit+1 {
		t.Errorf("%q %v, capacity %d", b, err, cap(b))
	}
}

// isFormMediaTypeRef is the check publish made before isFormMediaType.
func isFormMediaTypeRef(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == formMediaType
}

func TestIsFormMediaType(t *testing.T) {
	for _, ct := range []string{
		"application/x-www-form-urlencoded",
		"APPLICATION/X-WWW-FORM-URLENCODED",
		"application/x-www-form-urlencoded; charset=utf-8",
		"application/x-www-form-urlencoded; charset=UTF-8",
		"Application/X-WWW-Form-Urlencoded; Charset=Utf-8",
		"application/x-www-form-urlencoded;charset=utf-8",
		"application/x-www-form-urlencoded ; charset=utf-8",
		"application/x-www-form-urlencoded; charſet=utf-8", // U+017F, which strings.EqualFold takes for "s"
		"application/x-www-form-urlencoded; charset=utf-8; charset=utf-8",
		"application/x-www-form-urlencoded;;;",
		"application/x-www-form-urlencoded; charset",
		"application/x-www-form-urlencodeD",
		"application/x-www-form-urlencoded2",
		"application/x-www-form-urlencode",
		" application/x-www-form-urlencoded",
		"text/plain",
		"multipart/form-data; boundary=x",
		"",
	} {
		if got, want := isFormMediaType(ct), isFormMediaTypeRef(ct); got != want {
			t.Errorf("%q: %v, mime.ParseMediaType says %v", ct, got, want)
		}
	}
}

func FuzzContentType(f *testing.F) {
	f.Add("application/x-www-form-urlencoded; charset=utf-8")
	f.Add("application/x-www-form-urlencoded; charſet=utf-8")
	f.Fuzz(func(t *testing.T, ct string) {
		if got, want := isFormMediaType(ct), isFormMediaTypeRef(ct); got != want {
			t.Fatalf("%q: %v, mime.ParseMediaType says %v", ct, got, want)
		}
	})
}

// readPublishFormRef is what publish did before readPublishForm.
func (h *Handler) readPublishFormRef(w http.ResponseWriter, r *http.Request) (publishForm, error) {
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return publishForm{}, err
	}
	f := formFromValues(r.PostForm)
	if len(f.topics) > h.cfg.MaxTopics {
		f.topics = f.topics[:h.cfg.MaxTopics]
	}
	return f, nil
}

// FuzzReadPublishForm: readPublishForm reads a request as ParseForm and
// PostForm did: the same error (or both over the limit), the same fields,
// and the same update or error from parseUpdate.
func FuzzReadPublishForm(f *testing.F) {
	h := &Handler{cfg: Config{MaxTopics: 3, MaxBodyBytes: 64}}
	for _, seed := range []struct {
		body, ct, query string
	}{
		{"topic=t&data=x", formMediaType, ""},
		{"topic=t&data=x", "", ""},
		{"topic=t&data=x", formMediaType, "topic=q"},
		{"data=x", formMediaType, "topic=q&data=y"},
		{"topic=t", formMediaType, "%zz"},
		{"topic=t", formMediaType, "a;b"},
		{"topic=%zz", formMediaType, "a;b"},
		{"topic=t&data=" + strings.Repeat("x", 60), formMediaType, "%zz"},
		{"topic=a&topic=b&topic=c&topic=d", formMediaType, ""},
		{"topic=t&retry=10&private=off&id=x&type=y", formMediaType + "; charset=utf-8", ""},
	} {
		f.Add([]byte(seed.body), seed.ct, seed.query, uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, ct, query string, sizeMode uint8) {
		if ct != "" && !isFormMediaType(ct) {
			return // refused with a 415 before
		}
		newReq := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.URL.RawQuery = query
			r.Header = http.Header{}
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			switch sizeMode % 3 {
			case 1:
				r.ContentLength = -1
			case 2:
				r.ContentLength /= 2 // a body longer than announced
			}
			return r
		}
		want, wantErr := h.readPublishFormRef(httptest.NewRecorder(), newReq())
		got, err := h.readPublishForm(httptest.NewRecorder(), newReq())
		_, tooLarge := errors.AsType[*http.MaxBytesError](err)
		_, wantTooLarge := errors.AsType[*http.MaxBytesError](wantErr)
		if tooLarge != wantTooLarge || !tooLarge && !sameError(err, wantErr) {
			t.Fatalf("body %q, Content-Type %q, query %q: error %v, want %v", body, ct, query, err, wantErr)
		}
		if err != nil {
			return
		}
		if diff := sameForm(got, want); diff != "" {
			t.Fatalf("body %q, Content-Type %q, query %q: %s", body, ct, query, diff)
		}
		u, err := h.parseUpdate(&got)
		wantU, wantErr := h.parseUpdate(&want)
		if !sameError(err, wantErr) || err == nil && !slices.Equal(u.Topics, wantU.Topics) {
			t.Fatalf("body %q: update %+v, %v; want %+v, %v", body, u, err, wantU, wantErr)
		}
		if err == nil && (u.ID != wantU.ID || u.Data != wantU.Data || u.Type != wantU.Type || u.Retry != wantU.Retry || u.Private != wantU.Private) {
			t.Fatalf("body %q: update %+v, want %+v", body, u, wantU)
		}
	})
}

// formEnv is a handler on a memory hub with a server, and a publisher token.
type formEnv struct {
	store *memory.Store
	ts    *httptest.Server
	h     *Handler
	tok   string
}

func newFormEnv(t *testing.T, cfg Config) *formEnv {
	t.Helper()
	st := memory.New(memory.Options{})
	hb := hub.New(st, hub.Options{})
	t.Cleanup(func() {
		hb.Close(context.Background())
		st.Close()
	})
	key := []byte("form test key")
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hub, cfg.Publishers = hb, v
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Sign("HS256", key, auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &formEnv{store: st, ts: ts, h: h, tok: tok}
}

// post publishes body (with ?query if not empty) over HTTP, with
// Content-Length unless chunked.
func (e *formEnv) post(t *testing.T, query, ct, body string, chunked bool) (*http.Response, string) {
	t.Helper()
	u := e.ts.URL + Path
	if query != "" {
		u += "?" + query
	}
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // unknown length: sent chunked
	}
	req, err := http.NewRequest(http.MethodPost, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+e.tok)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestPublishForm: the handler's answers to bodies and queries, over HTTP.
func TestPublishForm(t *testing.T) {
	t.Parallel()
	const limit = 32 << 10
	e := newFormEnv(t, Config{MaxBodyBytes: limit})
	big := "topic=t&data=" + strings.Repeat("x", 2*limit)
	over := "topic=t&data=" + strings.Repeat("x", limit+1-len("topic=t&data="))
	at := over[:limit]
	for _, tc := range []struct {
		name, query, ct, body string
		status                int
		msg                   string
	}{
		{"ok", "", formMediaType, "topic=t&data=x", 200, ""},
		{"trailing &", "", formMediaType, "topic=t&data=x&", 200, ""},
		{"semicolon", "", formMediaType, "topic=t;data=x", 400, "malformed form body: invalid semicolon separator in query"},
		{"bad escape", "", formMediaType, "topic=t&data=%zz", 400, `malformed form body: invalid URL escape "%zz"`},
		{"query not read", "topic=q", formMediaType, "data=x", 400, `missing "topic" field`},
		{"query duplicates not counted", "data=y", formMediaType, "topic=t&data=x", 200, ""},
		{"malformed query", "%zz", formMediaType, "topic=t", 400, `malformed form body: invalid URL escape "%zz"`},
		{"query with a semicolon", "a;b", formMediaType, "topic=t", 400, "malformed form body: invalid semicolon separator in query"},
		{"body error before the query's", "a;b", formMediaType, "topic=%zz", 400, `malformed form body: invalid URL escape "%zz"`},
		{"no Content-Type: body not read", "", "", "topic=t&data=x", 400, `missing "topic" field`},
		{"at the limit", "", formMediaType, at, 200, ""},
		{"one byte over", "", formMediaType, over, 413, "larger than 32768 bytes"},
		{"too large", "", formMediaType, big, 413, "larger than 32768 bytes"},
		{"too large, with a bad query", "%zz", formMediaType, big, 413, "larger than 32768 bytes"},
		{"too many params", "", formMediaType, "topic=t" + strings.Repeat("&", maxParams), 400, "malformed form body: number of URL query parameters exceeded limit"},
		{"as many params as allowed", "", formMediaType, "topic=t" + strings.Repeat("&", maxParams-1), 200, ""},
		{"duplicate", "", formMediaType, "topic=t&id=a&id=b&id=c", 400, `field "id" is given 3 times`},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", tc.name, chunked), func(t *testing.T) {
				resp, body := e.post(t, tc.query, tc.ct, tc.body, chunked)
				if resp.StatusCode != tc.status || !strings.Contains(body, tc.msg) {
					t.Fatalf("%s %q, want %d %q", resp.Status, body, tc.status, tc.msg)
				}
				if tc.status != 200 {
					return
				}
				if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
					t.Errorf("Content-Length %d, Transfer-Encoding %q for a %d-byte answer", resp.ContentLength, resp.TransferEncoding, len(body))
				}
				if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "text/plain; charset=utf-8" || cc != "no-store" {
					t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
				}
			})
		}
	}
	if textPlain[0] != "text/plain; charset=utf-8" || noStore[0] != "no-store" || contentLengths[37][0] != "37" {
		t.Error("the shared header values changed")
	}
}

// TestPublishFormKept: the hub keeps the values of many publishes, parsed
// from reused buffers, intact.
func TestPublishFormKept(t *testing.T) {
	t.Parallel()
	e := newFormEnv(t, Config{})
	const n = 200
	var want []herald.Update
	for i := range n {
		u := herald.Update{
			Topics: []string{fmt.Sprintf("https://example.com/%d", i), fmt.Sprintf("plain-%d", i)},
			Data:   strings.Repeat(fmt.Sprintf("data %d\n", i), i%40+1),
			ID:     fmt.Sprintf("id-%d", i),
			Type:   fmt.Sprintf("type%d", i),
			Retry:  time.Duration(i) * time.Millisecond,
		}
		body := url.Values{"topic": u.Topics, "data": {u.Data}, "id": {u.ID}, "type": {u.Type}, "retry": {strconv.Itoa(i)}}.Encode()
		if resp, msg := e.post(t, "", formMediaType, body, i%2 == 0); resp.StatusCode != 200 || msg != u.ID {
			t.Fatalf("publish %d: %s %q", i, resp.Status, msg)
		}
		want = append(want, u)
	}
	var got []herald.Update
	err := e.store.Replay(context.Background(), herald.EarliestID, func(u herald.Update) error {
		got = append(got, u)
		return nil
	})
	if err != nil || len(got) != n {
		t.Fatalf("replayed %d updates, %v", len(got), err)
	}
	for i, u := range got {
		w := want[i]
		if u.ID != w.ID || u.Data != w.Data || u.Type != w.Type || u.Retry != w.Retry || !slices.Equal(u.Topics, w.Topics) {
			t.Errorf("stored %+v, published %+v", u, w)
		}
	}
}

// TestPublishFormParsed: a request whose form a middleware already parsed
// is read from r.PostForm, as before.
func TestPublishFormParsed(t *testing.T) {
	t.Parallel()
	e := newFormEnv(t, Config{})
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.FormValue("anything")
		e.h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.ts.Close)
	resp, body := e.post(t, "topic=q", formMediaType, "topic=t&data=x&id=parsed", false)
	if resp.StatusCode != 200 || body != "parsed" {
		t.Fatalf("%s %q", resp.Status, body)
	}
	var topics []string
	e.store.Replay(context.Background(), herald.EarliestID, func(u herald.Update) error {
		topics = u.Topics
		return nil
	})
	if !slices.Equal(topics, []string{"t"}) {
		t.Errorf("topics %q, want only the body's", topics)
	}
}

// TestPublishFormLarge: a very large body gets a 413, whatever its
// announced length, even in a request that does not come from a server (its
// body longer than its ContentLength).
func TestPublishFormLarge(t *testing.T) {
	t.Parallel()
	e := newFormEnv(t, Config{})
	body := "topic=t&data=" + strings.Repeat("x", 8*DefaultMaxBodyBytes)
	for _, size := range []int64{int64(len(body)), -1, 10, DefaultMaxBodyBytes} {
		r := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(body))
		r.ContentLength = size
		r.Header.Set("Content-Type", formMediaType)
		r.Header.Set("Authorization", "Bearer "+e.tok)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		want := fmt.Sprintf("the request body is larger than %d bytes, the limit on a form-encoded body\n", DefaultMaxBodyBytes)
		if w.Code != http.StatusRequestEntityTooLarge || w.Body.String() != want {
			t.Errorf("ContentLength %d: %d %q, want 413 %q", size, w.Code, w.Body, want)
		}
	}
}
