package mercure_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store/memory"
)

// transcript renders what a subscriber saw, to compare modes byte for byte.
func transcript(evs []sse.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Sprintf("id=%q type=%q retry=%v data=%q", ev.ID, ev.Type, ev.Retry, ev.Data)
	}
	return out
}

// TestSubscribe checks topic selection (exact, URI template, "*", several
// selectors, an update with several topics delivered once), the fields of
// each event and the stream's response headers, on each of the three
// delivery paths, and that the three deliver exactly the same thing.
func TestSubscribe(t *testing.T) {
	const (
		book1   = "https://example.com/books/1"
		book2   = "https://example.com/books/2"
		author7 = "https://example.com/authors/7"
		review  = "https://example.com/books/1/reviews"
	)
	subs := []struct {
		name      string
		selectors []string
		want      []string // data of the updates it must receive, in order
	}{
		{"exact", []string{book1, hubtest.Sentinel}, []string{"b1", "multi"}},
		{"template", []string{"https://example.com/books/{id}", hubtest.Sentinel}, []string{"b1", "b2\nline two", "multi"}},
		{"all", []string{"*"}, []string{"b1", "b2\nline two", "a7", "multi", "review"}},
		{"several", []string{book1, "https://example.com/authors/{id}", hubtest.Sentinel}, []string{"b1", "a7", "multi"}},
		{"overlapping", []string{book1, "https://example.com/books/{id}", "*", hubtest.Sentinel}, []string{"b1", "b2\nline two", "a7", "multi", "review"}},
	}
	var mu sync.Mutex
	got := map[string][]string{} // mode -> transcript of every subscriber
	t.Run("modes", func(t *testing.T) {
		for _, m := range hubtest.Modes {
			t.Run(m.Name, func(t *testing.T) {
				t.Parallel()
				// A fixed instance id makes the generated ids, and so the
				// transcripts, the same in every mode.
				e := hubtest.New(t, hubtest.Config{Mode: m, Store: memory.New(memory.Options{Instance: "modes"})})
				var all []string
				streams := make([]*hubtest.Stream, len(subs))
				for i, sub := range subs {
					streams[i] = e.Subscribe(t, hubtest.Topics(sub.selectors...), nil)
					h := streams[i].Response.Header
					for _, kv := range [][2]string{
						{"Content-Type", "text/event-stream; charset=utf-8"},
						// No cache may keep a stream, a private one
						// included (the draft's SHOULD when the token is
						// in the query string).
						{"Cache-Control", "private, no-cache, no-store"},
						{"X-Accel-Buffering", "no"},
						{"Last-Event-ID", herald.EarliestID}, // the hub is empty
					} {
						k, want := kv[0], kv[1]
						if got := h.Get(k); got != want {
							t.Errorf("%s: response header %s = %q, want %q", sub.name, k, got, want)
						}
						all = append(all, k+": "+h.Get(k))
					}
				}
				pub := []url.Values{
					{"topic": {book1}, "data": {"b1"}, "type": {"book.updated"}, "retry": {"2500"}},
					{"topic": {book2}, "data": {"b2\nline two"}},
					{"topic": {author7}, "data": {"a7"}},
					{"topic": {"urn:other", book1, book2}, "data": {"multi"}},
					{"topic": {review}, "data": {"review"}},
				}
				idOf := map[string]string{} // data -> id
				for _, f := range pub {
					idOf[f.Get("data")] = e.Publish(t, f)
				}
				for i, evs := range e.Flush(t, streams...) {
					sub := subs[i]
					if got := hubtest.Datas(evs); !slices.Equal(got, sub.want) {
						t.Errorf("%s %v received %q, want %q", sub.name, sub.selectors, got, sub.want)
						continue
					}
					for _, ev := range evs {
						if ev.ID != idOf[ev.Data] {
							t.Errorf("%s: event %q has id %q, want the published id %q", sub.name, ev.Data, ev.ID, idOf[ev.Data])
						}
						wantType, wantRetry := "message", time.Duration(0)
						if ev.Data == "b1" {
							wantType, wantRetry = "book.updated", 2500*time.Millisecond
						}
						if ev.Type != wantType || ev.Retry != wantRetry {
							t.Errorf("%s: event %q has type %q retry %v, want %q %v", sub.name, ev.Data, ev.Type, ev.Retry, wantType, wantRetry)
						}
					}
					all = append(all, transcript(evs)...)
				}

				// Once the hub holds history, a fresh subscriber is told the
				// newest id.
				newest := e.PublishData(t, "newest", "urn:test:unwatched")
				s := e.Subscribe(t, hubtest.Topics(book1), nil)
				if got := s.Response.Header.Get("Last-Event-ID"); got != newest {
					t.Errorf("Last-Event-ID of a fresh subscription = %q, want the newest id %q", got, newest)
				}
				all = append(all, "Last-Event-ID: "+s.Response.Header.Get("Last-Event-ID"))
				mu.Lock()
				got[m.Name] = all
				mu.Unlock()
			})
		}
	})
	ref := got[hubtest.Modes[0].Name]
	for _, m := range hubtest.Modes[1:] {
		if g, ok := got[m.Name]; ok && !slices.Equal(g, ref) {
			t.Errorf("%s delivered differently from %s:\n%s\nvs\n%s", m.Name, hubtest.Modes[0].Name, strings.Join(g, "\n"), strings.Join(ref, "\n"))
		}
	}
}

// TestSubscribeBadRequest: a subscription the hub cannot serve gets a 400
// with a plain-text message saying what is wrong, and no stream.
func TestSubscribeBadRequest(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{MaxTopics: 3, MaxSelectorLength: 40, MaxSelectorBytes: 100}})
	for _, tc := range []struct {
		name, query, wantMsg string
	}{
		{"no topic", "", "topic"},
		{"empty topic", "topic=", "topic"},
		{"too many selectors", hubtest.Topics("a", "b", "c", "d"), "too many"},
		{"selector too long", hubtest.Topics(strings.Repeat("x", 41)), "limit"},
		{"selectors too long together", hubtest.Topics(strings.Repeat("x", 40), strings.Repeat("y", 40), strings.Repeat("z", 21)), "101 bytes together, the limit is 100"},
		{"control character", "topic=a%01b", "control"},
		{"DEL", "topic=a%7Fb", "control"},
		{"not UTF-8", "topic=a%FFb", "UTF-8"},
		{"bad template", hubtest.Topics("https://example.com/{id"), "template"},
		{"lastEventID with LF", hubtest.Topics("a") + "&lastEventID=x%0Ay", "Last-Event-ID"},
		{"lastEventID with NUL", hubtest.Topics("a") + "&lastEventID=x%00y", "Last-Event-ID"},
		{"lastEventID too long", hubtest.Topics("a") + "&lastEventID=" + strings.Repeat("i", herald.MaxIDLength+1), "Last-Event-ID"},
		// A malformed query is refused, naming the parameter, rather than
		// read in part.
		{"malformed topic", "topic=a&topic=%zz", `query parameter "topic": invalid URL escape "%zz"`},
		{"malformed first topic", "topic=%zz&topic=a", `query parameter "topic"`},
		{"malformed other parameter", "topic=a&lastEventID=%z1", `query parameter "lastEventID"`},
		{"malformed parameter name", "topic=a&%zz=1", `query parameter name "%zz"`},
		{"semicolon", "topic=a;b", "semicolon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.GetText(t, "?"+tc.query, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("GET ?%s: %s, want 400", tc.query, resp.Status)
			}
			if mt := hubtest.MediaType(resp); mt != "text/plain" {
				t.Errorf("Content-Type %q, want text/plain", resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(strings.ToLower(body), strings.ToLower(tc.wantMsg)) {
				t.Errorf("message %q does not mention %q", body, tc.wantMsg)
			}
			if resp.Header.Get("Last-Event-ID") != "" {
				t.Errorf("an error response carries Last-Event-ID %q", resp.Header.Get("Last-Event-ID"))
			}
		})
	}
	if n := e.Hub.Subscribers(); n != 0 {
		t.Errorf("%d subscribers registered by refused requests", n)
	}
}

// TestSubscribeDuplicateSelectors: a selector given twice is one selector;
// the update is still delivered once.
func TestSubscribeDuplicateSelectors(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	s := e.Subscribe(t, hubtest.Topics("a", "a", "{x}", hubtest.Sentinel), nil)
	id := e.PublishData(t, "once", "a")
	if got := hubtest.IDs(e.Flush(t, s)[0]); !slices.Equal(got, []string{id}) {
		t.Errorf("received %q, want [%q] once", got, id)
	}
}

// TestHeadOpensNoStream: a HEAD request on the hub's URL is answered at
// once without opening a stream (a HEAD response has no body to stream in),
// and the client's connection stays usable for the next request, on every
// delivery path.
func TestHeadOpensNoStream(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m})
			// One connection only, so the GET must reuse the HEAD's.
			tr := e.Client.Transport.(*http.Transport).Clone()
			tr.MaxConnsPerHost = 1
			client := &http.Client{Transport: tr}
			defer tr.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), hubtest.WaitTimeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodHead, e.URL+"?"+hubtest.Topics("a"), nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("HEAD: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("HEAD: %s, want 200 or 405", resp.Status)
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, e.Server.URL+"/nowhere", nil)
			resp, err = client.Do(req)
			if err != nil {
				t.Fatalf("GET after HEAD on the same connection: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /nowhere after HEAD: %s, want 404", resp.Status)
			}
			if n := e.Hub.Subscribers(); n != 0 {
				t.Errorf("%d subscribers after a HEAD request", n)
			}
		})
	}
}

// TestMatchedField: with matchedField=1, every update carries a "matched"
// field (which EventSource ignores) listing the indexes of the subscription's
// selectors, in the order given and without duplicates, that select it,
// live and replayed alike: a client sharing one stream among several
// subscriptions routes each update with it. Without it, no such field.
func TestMatchedField(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m})
			// open subscribes (the stream is registered once the headers
			// are in) and returns the event blocks, without ids and
			// comments, up to the one with data until.
			open := func(query string, hdr http.Header, until string) <-chan []string {
				ctx, cancel := context.WithTimeout(context.Background(), hubtest.WaitTimeout)
				resp := e.Get(t, ctx, "?"+query, hdr)
				out := make(chan []string, 1)
				go func() {
					defer cancel()
					defer resp.Body.Close()
					var blocks []string
					rd := bufio.NewReader(resp.Body)
					block := ""
					for {
						line, err := rd.ReadString('\n')
						if err != nil {
							out <- append(blocks, "error: "+err.Error())
							return
						}
						if line == "\n" {
							blocks = append(blocks, block)
							if strings.Contains(block, "data: "+until+"\n") {
								out <- blocks
								return
							}
							block = ""
							continue
						}
						if !strings.HasPrefix(line, ":") && !strings.HasPrefix(line, "id:") {
							block += line
						}
					}
				}()
				return out
			}
			q := hubtest.Topics("/a", "/books/{id}", "/a", "/b") + "&matchedField=1"
			live := open(q, nil, "end")
			plain := open(hubtest.Topics("/a", "/b"), nil, "end")
			first := e.PublishData(t, "only a", "/a")
			e.PublishData(t, "a book", "/books/1")
			e.Publish(t, url.Values{"topic": {"/b", "/books/2"}, "data": {"b and a book"}})
			e.PublishData(t, "end", "/b")
			want := []string{"matched: 0\ndata: only a\n", "matched: 1\ndata: a book\n", "matched: 1 2\ndata: b and a book\n", "matched: 2\ndata: end\n"}
			if got := <-live; !slices.Equal(got, want) {
				t.Errorf("live: %q, want %q", got, want)
			}
			if got := <-open(q, http.Header{"Last-Event-ID": {first}}, "end"); !slices.Equal(got, want[1:]) {
				t.Errorf("replayed: %q, want %q", got, want[1:])
			}
			if got, want := <-plain, []string{"data: only a\n", "data: b and a book\n", "data: end\n"}; !slices.Equal(got, want) {
				t.Errorf("without matchedField: %q, want %q", got, want)
			}
		})
	}
}
