package mercure_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// wireEvent is what a subscriber's decoder makes of ev: the event as it can
// travel in a text/event-stream (line breaks normalized to LF, invalid UTF-8
// replaced), which the sse package's own tests pin down.
func wireEvent(t *testing.T, ev sse.Event) sse.Event {
	t.Helper()
	b, err := sse.AppendEvent(nil, ev)
	if err != nil {
		t.Fatalf("the hub accepted an event the encoder refuses: %+v: %v", ev, err)
	}
	got, err := sse.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return got
}

// FuzzPublish: whatever the body and Content-Type of a publish, the handler
// does not panic, answers one of the statuses the protocol allows, and a 200
// means the update is delivered exactly as the form said.
func FuzzPublish(f *testing.F) {
	const maxBody = 2048
	e := hubtest.New(f, hubtest.Config{Mercure: mercure.Config{MaxBodyBytes: maxBody, MaxTopics: 8}, Store: memory.New(memory.Options{Instance: "fuzz"})})
	s := e.Subscribe(f, hubtest.Topics("*"), hubtest.Bearer(hubtest.SubscriberToken(f, "*")))
	tokens := []string{
		hubtest.PublisherToken(f), // 0: may publish anywhere
		"",                        // 1: none
		hubtest.Sign(f, []byte("wrong key"), auth.Grant{Publish: []string{"*"}}),                         // 2: bad signature
		hubtest.Sign(f, hubtest.PubKey, auth.Grant{Publish: []string{"https://example.com/books/{id}"}}), // 3: some topics
	}
	form := "application/x-www-form-urlencoded"
	for _, seed := range []struct {
		body, ct string
		tok      uint8
	}{
		{"topic=t&data=hello", form, 0},
		{"topic=https://example.com/books/1&topic=alt&data=a%0Ab%0Dc%0D%0Ad&id=x&type=y&retry=10&private=on", form, 0},
		{"topic=https://example.com/books/1&data=x", form, 3},
		{"topic=https://example.com/authors/1&data=x", form, 3},
		{"topic=t&data=%FF%FE%E2%82", form, 0},
		{"topic=t&data=" + strings.Repeat("x", maxBody), form, 0},
		{"topic=t&id=%23x", form, 0},
		{"topic=t&type=a%0Ab", form, 0},
		{"topic=t&retry=1e3", form, 0},
		{"topic=t&data=a&data=b", form, 0},
		{"topic=/.well-known/mercure/subscriptions/a/b", form, 0},
		{"topic=%zz", form, 0},
		{"topic=t", "text/plain", 0},
		{"topic=t", "", 0},
		{"topic=t", form + "; charset=utf-8", 0},
		{"topic=t", form + ";;;", 0},
		{"topic=t", form, 1},
		{"topic=t", form, 2},
		{"topic=t;data=x&data=y", form, 0},
	} {
		f.Add([]byte(seed.body), seed.ct, seed.tok)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string, tok uint8) {
		req := httptest.NewRequest(http.MethodPost, mercure.Path, bytes.NewReader(body))
		req.Header["Content-Type"] = []string{contentType}
		if token := tokens[int(tok)%len(tokens)]; token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
			http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			if strings.TrimSpace(rec.Body.String()) == "" {
				t.Fatalf("%d without a message", rec.Code)
			}
			return
		default:
			t.Fatalf("POST %q (Content-Type %q): status %d %q", body, contentType, rec.Code, rec.Body.String())
		}
		id := rec.Body.String()
		// What the form said, read as the protocol defines it.
		f, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("200 for a body that is not a form: %q (%v)", body, err)
		}
		want := sse.Event{ID: id, Type: f.Get("type"), Data: f.Get("data")}
		if fid := f.Get("id"); fid != "" && fid != id {
			t.Fatalf("published with id %q, answered %q", fid, id)
		}
		if r := f.Get("retry"); r != "" {
			ms, err := strconv.ParseUint(r, 10, 32)
			if err != nil {
				t.Fatalf("200 for retry %q", r)
			}
			want.Retry = time.Duration(ms) * time.Millisecond
		}
		want = wireEvent(t, want)
		got := s.Next(t)
		if got != want {
			t.Fatalf("POST %q delivered\n%+v\nwant\n%+v", body, got, want)
		}
	})
}

// flushRecorder is a ResponseRecorder that reports its first Flush: the
// moment a stream's headers are out.
type flushRecorder struct {
	*httptest.ResponseRecorder
	once    sync.Once
	flushed chan struct{}
}

func (w *flushRecorder) Flush() {
	w.ResponseRecorder.Flush()
	w.once.Do(func() { close(w.flushed) })
}

// FuzzSubscribe: whatever the query string of a subscription, the handler
// does not panic, and either streams (200 text/event-stream, until the
// client leaves) or refuses with a 400 or 401 and a plain-text message.
func FuzzSubscribe(f *testing.F) {
	e := hubtest.New(f, hubtest.Config{Hub: hub.Options{NoHijack: true}, Mercure: mercure.Config{MaxTopics: 8, MaxSelectorLength: 256}})
	held := e.PublishData(f, "held", "t")
	e.PublishData(f, "next", "t")
	tok := url.QueryEscape(hubtest.SubscriberToken(f, "*"))
	for _, q := range []string{
		"",
		"topic=a",
		"topic=*",
		"topic=%7Bx%7D",
		"topic={x}&topic=https://example.com/{a}/{b}",
		"topic=%7B",
		"topic=a&lastEventID=earliest",
		"topic=t&lastEventID=" + url.QueryEscape(held),
		"topic=t&Last-Event-ID=" + url.QueryEscape(held) + "&gapEvent=1",
		"topic=t&lastEventID=nope&gapEvent=1",
		"topic=a&lastEventID=%0A",
		"topic=a&authorization=" + tok,
		"topic=a&authorization=garbage",
		"topic=a&authorization=",
		"topic=a&authorization=" + tok + "&authorization=" + tok,
		"topic=%ZZ",
		"topic=a;topic=b",
		"topic=" + strings.Repeat("a", 300),
		"topic=a&topic=b&topic=c&topic=d&topic=e&topic=f&topic=g&topic=h&topic=i",
		"topic=%01",
		"topic=%FF",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req := (&http.Request{
			Method:     http.MethodGet,
			URL:        &url.URL{Path: mercure.Path, RawQuery: rawQuery},
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     http.Header{},
			Host:       "hub.example",
			RemoteAddr: "192.0.2.1:1234",
			RequestURI: mercure.Path + "?" + rawQuery,
		}).WithContext(ctx)
		w := &flushRecorder{ResponseRecorder: httptest.NewRecorder(), flushed: make(chan struct{})}
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.Handler.ServeHTTP(w, req)
		}()
		timer := time.NewTimer(hubtest.WaitTimeout)
		defer timer.Stop()
		select {
		case <-w.flushed: // streaming: the client leaves
			cancel()
			select {
			case <-done:
			case <-timer.C:
				t.Fatalf("?%s: the stream did not end within %v of the client leaving", rawQuery, hubtest.WaitTimeout)
			}
		case <-done:
		case <-timer.C:
			t.Fatalf("?%s: no answer within %v", rawQuery, hubtest.WaitTimeout)
		}
		switch w.Code {
		case http.StatusOK:
			if mt := w.Header().Get("Content-Type"); !strings.HasPrefix(mt, "text/event-stream") {
				t.Fatalf("?%s: 200 with Content-Type %q", rawQuery, mt)
			}
			if w.Header().Get("Last-Event-ID") == "" {
				t.Fatalf("?%s: a stream without a Last-Event-ID header", rawQuery)
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
			if mt := w.Header().Get("Content-Type"); !strings.HasPrefix(mt, "text/plain") || strings.TrimSpace(w.Body.String()) == "" {
				t.Fatalf("?%s: %d with Content-Type %q and message %q", rawQuery, w.Code, mt, w.Body.String())
			}
		default:
			t.Fatalf("?%s: status %d %q", rawQuery, w.Code, w.Body.String())
		}
		if n := len(e.Hub.SubscriberInfos()); n != 0 {
			t.Fatalf("?%s: %d subscribers still registered after the request ended", rawQuery, n)
		}
	})
}
