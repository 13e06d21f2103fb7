package eventsource_test

// The parsing cases of the LaunchDarkly SSE contract tests
// (github.com/launchdarkly/sse-contract-tests, ssetests/tests_basic_parsing,
// tests_linefeeds, tests_bom, tests_payload_sizes), re-derived from their
// public description and run end to end: a real HTTP server sends the
// stream in one chunk, in 1-byte and in 2-byte chunks, and the client must
// deliver exactly the expected events. Their HTTP and reconnection cases are
// in client_test.go and timing_test.go.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/sse"
)

// chunked returns a handler that sends stream in chunks of size bytes (all
// at once if size is 0), flushing each, and then holds the response.
func chunked(stream string, size int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if size <= 0 {
			size = len(stream)
		}
		var chunks []string
		for s := stream; s != ""; {
			n := min(size, len(s))
			chunks, s = append(chunks, s[:n]), s[n:]
		}
		sendAndHold(chunks...)(w, r)
	}
}

type contractCase struct {
	name   string
	stream string
	want   []sse.Event
}

// msg is a "message" event.
func msg(data string) sse.Event { return sse.Event{Type: "message", Data: data} }

func contractCases() []contractCase {
	cases := []contractCase{
		{"one-line message", "data: Hello\n\n", []sse.Event{msg("Hello")}},
		{"two one-line messages", "data: Hello\n\ndata: World\n\n", []sse.Event{msg("Hello"), msg("World")}},
		{"one two-line message", "data: Hello\ndata:World\n\n", []sse.Event{msg("Hello\nWorld")}},
		{"empty data", "data:\n\n", []sse.Event{msg("")}},
		{"event with specific type", "event: greeting\ndata: Hello\n\n", []sse.Event{{Type: "greeting", Data: "Hello"}}},
		{"event with ID", "id: abc\ndata: Hello\n\n", []sse.Event{{ID: "abc", Type: "message", Data: "Hello"}}},
		{"event with type and ID", "event: greeting\nid: abc\ndata: Hello\n\n", []sse.Event{{ID: "abc", Type: "greeting", Data: "Hello"}}},
		{"ID field is ignored if it contains a null", "id: a\x00bc\ndata: Hello\n\n", []sse.Event{msg("Hello")}},
		{"last ID persists", "id: abc\ndata: first\n\ndata: second\n\n", []sse.Event{{ID: "abc", Type: "message", Data: "first"}, {ID: "abc", Type: "message", Data: "second"}}},
		{"last ID can be overridden by an empty value", "id: abc\ndata: first\n\nid: \ndata: second\n\n", []sse.Event{{ID: "abc", Type: "message", Data: "first"}, msg("second")}},
		{"fields in reverse order", "data: Hello\nid: abc\nevent: greeting\n\n", []sse.Event{{ID: "abc", Type: "greeting", Data: "Hello"}}},
		{"unknown field is ignored", "event: greeting\ncolor: blue\ndata: Hello\n\n", []sse.Event{{Type: "greeting", Data: "Hello"}}},
		{"fields without leading space", "event:greeting\ndata:Hello\n\n", []sse.Event{{Type: "greeting", Data: "Hello"}}},
		{"fields with extra leading space", "event:  greeting\ndata:  Hello\n\n", []sse.Event{{Type: " greeting", Data: " Hello"}}},
		{"field with no colon", "data\n\ndata\ndata\n\n", []sse.Event{msg(""), msg("\n")}},
		{"multi-byte characters", "data: €豆腐\n\n", []sse.Event{msg("€豆腐")}},
		{"comments are ignored", ":Hello\ndata: Hello\n\n:World\ndata: World\n\n", []sse.Event{msg("Hello"), msg("World")}},
		{"CRLF where CR ends a chunk", "data: Hello\r\ndata: World\r\n\r\ndata: OK\r\n\r\n", []sse.Event{msg("Hello\nWorld"), msg("OK")}},
		{"BOM at start is stripped", "\xEF\xBB\xBFdata: Hello\n\n", []sse.Event{msg("Hello")}},
		{"BOM before a typed event with ID", "\xEF\xBB\xBFevent: greeting\nid: abc\ndata: Hello\n\n", []sse.Event{{ID: "abc", Type: "greeting", Data: "Hello"}}},
		{"only the first BOM is stripped", "\xEF\xBB\xBFdata: \xEF\xBB\xBFHello\n\n", []sse.Event{msg("\uFEFFHello")}},
		{"BOM later in the stream is data", "data: First\n\ndata: \xEF\xBB\xBFSecond\n\n", []sse.Event{msg("First"), msg("\uFEFFSecond")}},
		{"BOM and comment", "\xEF\xBB\xBF:comment\ndata: Hello\n\n", []sse.Event{msg("Hello")}},
	}
	for _, term := range []struct{ name, eol string }{{"LF", "\n"}, {"CRLF", "\r\n"}, {"CR", "\r"}} {
		e := term.eol
		cases = append(cases,
			contractCase{term.name + " one-line event", "data: event 1" + e + e, []sse.Event{msg("event 1")}},
			contractCase{term.name + " one-line + two-line event", "data: event 1" + e + e + "data: event 2 line 1" + e + "data: event 2 line 2" + e + e,
				[]sse.Event{msg("event 1"), msg("event 2 line 1\nevent 2 line 2")}},
			contractCase{term.name + " empty line at beginning", "data:" + e + "data: line2" + e + "data: line3" + e + e, []sse.Event{msg("\nline2\nline3")}},
			contractCase{term.name + " empty line in middle", "data: line1" + e + "data:" + e + "data: line3" + e + e, []sse.Event{msg("line1\n\nline3")}},
			contractCase{term.name + " extra empty lines", "data: event 1" + e + e + e + e + "data: event 2" + e + e, []sse.Event{msg("event 1"), msg("event 2")}},
		)
	}
	return cases
}

func TestContractParsing(t *testing.T) {
	for _, tt := range contractCases() {
		for _, size := range []int{0, 1, 2} {
			t.Run(fmt.Sprintf("%s/chunks of %d", tt.name, size), func(t *testing.T) {
				ts, _ := newServer(t, chunked(tt.stream, size))
				got := collect(t, &eventsource.Client{}, mustRequest(t, "GET", ts.URL, nil), len(tt.want))
				for i := range tt.want {
					if got[i] != tt.want[i] {
						t.Errorf("event %d = %+v, want %+v", i, got[i], tt.want[i])
					}
				}
			})
		}
	}
}

// TestContractBOMAfterReconnect: a BOM starts every response, so it is
// stripped on reconnections too, where the client carries the last event
// ID over.
func TestContractBOMAfterReconnect(t *testing.T) {
	ts, _ := newServer(t, send("\xEF\xBB\xBFid: 1\ndata: one\n\n"), chunked("\xEF\xBB\xBFdata: two\n\n", 1))
	got := collect(t, &eventsource.Client{Reconnect: fast}, mustRequest(t, "GET", ts.URL, nil), 2)
	if want := (sse.Event{ID: "1", Type: "message", Data: "two"}); got[1] != want {
		t.Errorf("event after reconnection = %+v, want %+v", got[1], want)
	}
}

// TestContractPayloadSizes: payloads around common buffer sizes arrive
// whole (the contract's "payload-size-stress-testable" sweep).
func TestContractPayloadSizes(t *testing.T) {
	for _, size := range []int{1, 1023, 1024, 1025, 4094, 4096, 4098, 8192, 8195, 65536, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := strings.Repeat("x", size)
			ts, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: "+data+"\n\n")
				http.NewResponseController(w).Flush()
				<-r.Context().Done()
			})
			got := collect(t, &eventsource.Client{}, mustRequest(t, "GET", ts.URL, nil), 1)
			if got[0].Data != data {
				t.Errorf("got %d bytes, want %d", len(got[0].Data), size)
			}
		})
	}
}
