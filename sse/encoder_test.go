package sse_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/sse"
)

// TestAppendEvent checks the wire form of events, rule by rule.
func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   sse.Event
		want string
	}{
		{name: "fields in order id, event, retry, data", ev: sse.Event{Data: "d", Retry: 2 * time.Second, Type: "t", ID: "i"}, want: "id: i\nevent: t\nretry: 2000\ndata: d\n\n"},
		{name: "zero event is one empty data line", ev: sse.Event{}, want: "data:\n\n"},
		{name: "empty data still writes one data line", ev: sse.Event{ID: "1"}, want: "id: 1\ndata:\n\n"},
		{name: "data split on LF", ev: sse.Event{Data: "a\nb"}, want: "data: a\ndata: b\n\n"},
		{name: "data split on CR", ev: sse.Event{Data: "a\rb"}, want: "data: a\ndata: b\n\n"},
		{name: "data split on CRLF", ev: sse.Event{Data: "a\r\nb"}, want: "data: a\ndata: b\n\n"},
		{name: "data split on LF CR as two breaks", ev: sse.Event{Data: "a\n\rb"}, want: "data: a\ndata:\ndata: b\n\n"},
		{name: "data with empty lines", ev: sse.Event{Data: "\na\n\n"}, want: "data:\ndata: a\ndata:\ndata:\n\n"},
		{name: "data ending with CR", ev: sse.Event{Data: "a\r"}, want: "data: a\ndata:\n\n"},
		{name: "data with a leading space keeps it", ev: sse.Event{Data: " a\n  b"}, want: "data:  a\ndata:   b\n\n"},
		{name: "data with colons and NUL written as is", ev: sse.Event{Data: "a: b\x00"}, want: "data: a: b\x00\n\n"},
		{name: "id and type with leading space keep it", ev: sse.Event{ID: " 1", Type: " t"}, want: "id:  1\nevent:  t\ndata:\n\n"},
		{name: "ResetID writes an empty id", ev: sse.Event{ResetID: true, Data: "x"}, want: "id:\ndata: x\n\n"},
		{name: "retry in milliseconds", ev: sse.Event{Retry: 1500 * time.Millisecond}, want: "retry: 1500\ndata:\n\n"},
		{name: "retry below 1ms written as 1", ev: sse.Event{Retry: time.Microsecond}, want: "retry: 1\ndata:\n\n"},
		{name: "retry truncated to whole ms", ev: sse.Event{Retry: 1999 * time.Microsecond}, want: "retry: 1\ndata:\n\n"},
		{name: "zero retry not written", ev: sse.Event{Retry: 0}, want: "data:\n\n"},
		{name: "negative retry not written", ev: sse.Event{Retry: -time.Second}, want: "data:\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sse.AppendEvent([]byte("prefix"), tt.ev)
			if err != nil {
				t.Fatalf("AppendEvent(%+v) error: %v", tt.ev, err)
			}
			if string(got) != "prefix"+tt.want {
				t.Fatalf("AppendEvent(%+v) = %q, want %q", tt.ev, got, "prefix"+tt.want)
			}
		})
	}
}

// TestAppendEventRefusesInjection checks that no id or type can inject a
// field, and that the error names the field.
func TestAppendEventRefusesInjection(t *testing.T) {
	tests := []struct {
		name  string
		ev    sse.Event
		field string
	}{
		{name: "id with LF refused", ev: sse.Event{ID: "1\ndata: injected"}, field: "id"},
		{name: "id with CR refused", ev: sse.Event{ID: "1\rdata: injected"}, field: "id"},
		{name: "id with NUL refused", ev: sse.Event{ID: "1\x00"}, field: "id"},
		{name: "type with LF refused", ev: sse.Event{Type: "t\n\ndata: injected"}, field: "event"},
		{name: "type with CR refused", ev: sse.Event{Type: "t\r"}, field: "event"},
		{name: "type with NUL refused", ev: sse.Event{Type: "\x00"}, field: "event"},
		{name: "ResetID with an id refused", ev: sse.Event{ID: "1", ResetID: true}, field: "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			got, err := sse.AppendEvent(dst, tt.ev)
			if !errors.Is(err, sse.ErrInvalidField) {
				t.Fatalf("AppendEvent(%+v) error = %v, want ErrInvalidField", tt.ev, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name the field %q", err, tt.field)
			}
			if string(got) != "prefix" {
				t.Errorf("AppendEvent appended %q on error, want nothing", got[len("prefix"):])
			}

			var buf bytes.Buffer
			if err := sse.NewEncoder(&buf).Encode(tt.ev); !errors.Is(err, sse.ErrInvalidField) {
				t.Errorf("Encode error = %v, want ErrInvalidField", err)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %q for an invalid event", buf.String())
			}
		})
	}
}

func TestAppendComment(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{name: "comment line", text: "ping", want: ": ping\n"},
		{name: "empty comment", text: "", want: ":\n"},
		{name: "comment split on line breaks", text: "a\nb\rc\r\nd", want: ": a\n: b\n: c\n: d\n"},
		{name: "comment keeps a leading space", text: " a", want: ":  a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sse.AppendComment(nil, tt.text); string(got) != tt.want {
				t.Fatalf("AppendComment(%q) = %q, want %q", tt.text, got, tt.want)
			}
			// Comments never dispatch anything, even with line breaks.
			stream := string(sse.AppendComment(nil, tt.text)) + "\n"
			if got := decodeAll(t, strings.NewReader(stream), 0); len(got.events) != 0 || got.err != io.EOF {
				t.Fatalf("decoding comment %q gave %+v", stream, got)
			}
		})
	}
}

// writeCounter records each Write call.
type writeCounter struct {
	writes []string
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestEncoderWritesEachEventOnce checks that Encode and Comment make one
// Write call each, so an event is never split across writes.
func TestEncoderWritesEachEventOnce(t *testing.T) {
	var w writeCounter
	enc := sse.NewEncoder(&w)
	if err := enc.Encode(sse.Event{ID: "1", Type: "t", Data: "a\nb"}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Comment("c"); err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(sse.Event{Data: "z"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"id: 1\nevent: t\ndata: a\ndata: b\n\n", ": c\n", "data: z\n\n"}
	if strings.Join(w.writes, "|") != strings.Join(want, "|") {
		t.Fatalf("writes = %q, want %q", w.writes, want)
	}
}

// failWriter fails every write.
type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestEncoderReturnsWriteErrors(t *testing.T) {
	errGone := errors.New("gone")
	enc := sse.NewEncoder(failWriter{errGone})
	if err := enc.Encode(sse.Event{Data: "x"}); err != errGone {
		t.Errorf("Encode error = %v, want %v", err, errGone)
	}
	if err := enc.Comment("x"); err != errGone {
		t.Errorf("Comment error = %v, want %v", err, errGone)
	}
}

// TestEncoderFlush checks that Flush reaches a *bufio.Writer, an
// http.Flusher, and is a no-op for other writers.
func TestEncoderFlush(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	enc := sse.NewEncoder(bw)
	if err := enc.Encode(sse.Event{Data: "x"}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("bufio.Writer flushed early: %q", out.String())
	}
	if err := enc.Flush(); err != nil || out.String() != "data: x\n\n" {
		t.Fatalf("after Flush: %q, %v", out.String(), err)
	}

	errGone := errors.New("gone")
	enc = sse.NewEncoder(bufio.NewWriter(failWriter{errGone}))
	if err := enc.Comment("x"); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != errGone {
		t.Fatalf("Flush error = %v, want %v", err, errGone)
	}

	rec := httptest.NewRecorder()
	if err := sse.NewEncoder(rec).Flush(); err != nil || !rec.Flushed {
		t.Fatalf("Flush on an http.Flusher: flushed %v, error %v", rec.Flushed, err)
	}

	if err := sse.NewEncoder(&out).Flush(); err != nil {
		t.Fatalf("Flush on a plain writer: %v", err)
	}
}

// TestEncoderAllocs checks that encoding to a buffered writer does not
// allocate in steady state.
func TestEncoderAllocs(t *testing.T) {
	ev := sse.Event{ID: "urn:herald:a:42", Type: "update", Data: "line one\nline two\r\nline three", Retry: time.Second}
	enc := sse.NewEncoder(bufio.NewWriter(io.Discard))
	allocs := testing.AllocsPerRun(1000, func() {
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
		if err := enc.Comment("heartbeat"); err != nil {
			t.Fatal(err)
		}
		if err := enc.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Encoder allocates %v times per event, want 0", allocs)
	}

	buf := make([]byte, 0, 1024)
	allocs = testing.AllocsPerRun(1000, func() {
		if _, err := sse.AppendEvent(buf[:0], ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendEvent into a large enough buffer allocates %v times, want 0", allocs)
	}
}

// TestEncoderDecoderOverHTTP streams events from a real HTTP server with
// Encoder and reads them back with Decoder, each as soon as it is flushed.
func TestEncoderDecoderOverHTTP(t *testing.T) {
	events := []sse.Event{
		{ID: "1", Type: "greeting", Data: "hello\r\nworld", Retry: 250 * time.Millisecond},
		{Data: ""},
		{ResetID: true, Type: "reset", Data: " leading space\rand CR"},
		{ID: "two words", Data: "é€😀\n\nend\n"},
	}
	next := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		enc := sse.NewEncoder(w)
		for _, ev := range events {
			if err := enc.Comment("before"); err != nil {
				return
			}
			if err := enc.Encode(ev); err != nil {
				return
			}
			if err := enc.Flush(); err != nil {
				return
			}
			select {
			case <-next: // the client got the event before the next is sent
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := sse.NewDecoder(resp.Body)
	lastID := ""
	for _, sent := range events {
		got, err := dec.Decode()
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if sent.ID != "" || sent.ResetID {
			lastID = sent.ID
		}
		want := sse.Event{ID: lastID, Type: sent.Type, Data: strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(sent.Data), Retry: sent.Retry}
		if want.Type == "" {
			want.Type = "message"
		}
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		next <- struct{}{}
	}
	if _, err := dec.Decode(); err != io.EOF {
		t.Fatalf("Decode at end = %v, want io.EOF", err)
	}
	if d, ok := dec.Retry(); d != 250*time.Millisecond || !ok {
		t.Errorf("Retry() = %v, %v, want 250ms, true", d, ok)
	}
}
