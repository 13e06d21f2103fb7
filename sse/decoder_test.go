package sse_test

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/herald-sse/herald/sse"
)

// decoded is everything a Decoder reports for a stream.
type decoded struct {
	events   []sse.Event
	err      error
	lastID   string
	retry    time.Duration
	hasRetry bool
}

// decodeAll decodes r until Decode fails, with at most limit events.
func decodeAll(t testing.TB, r io.Reader, maxSize int) decoded {
	t.Helper()
	dec := sse.NewDecoder(r)
	dec.MaxEventSize = maxSize
	var res decoded
	for range 1 << 20 {
		ev, err := dec.Decode()
		if err != nil {
			res.err = err
			res.lastID = dec.LastEventID()
			res.retry, res.hasRetry = dec.Retry()
			if _, err2 := dec.Decode(); err2 != err {
				t.Errorf("Decode after error %v returned %v, want the same error again", err, err2)
			}
			return res
		}
		res.events = append(res.events, ev)
	}
	t.Fatal("Decode never returned an error")
	return res
}

// chunkReader returns one chunk per Read call.
type chunkReader struct{ chunks []string }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if n < len(r.chunks[0]) {
		r.chunks[0] = r.chunks[0][n:]
	} else {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// readers returns the ways each table case is fed to the decoder: in one
// piece, one byte per read, with io.EOF returned together with the last
// bytes, and in two halves.
func readers(in string) map[string]io.Reader {
	h := len(in) / 2
	return map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"bytewise": iotest.OneByteReader(strings.NewReader(in)),
		"dataerr":  iotest.DataErrReader(strings.NewReader(in)),
		"halves":   &chunkReader{chunks: []string{in[:h], in[h:]}},
	}
}

func msg(id, data string) sse.Event {
	return sse.Event{ID: id, Type: "message", Data: data}
}

// TestDecoderRules checks each rule of the standard's "Parsing an event
// stream" and "Interpreting an event stream", every case fed whole, byte by
// byte and in halves, and checked against the reference decoder too.
func TestDecoderRules(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		in       string
		want     []sse.Event
		lastID   string
		retry    time.Duration
		hasRetry bool
	}{
		// Line endings.
		{name: "LF ends a line", in: "data: a\n\n", want: []sse.Event{msg("", "a")}},
		{name: "CRLF ends a line", in: "data: a\r\ndata: b\r\n\r\n", want: []sse.Event{msg("", "a\nb")}},
		{name: "lone CR ends a line", in: "data: a\rdata: b\r\r", want: []sse.Event{msg("", "a\nb")}},
		{name: "mixed line endings", in: "data: a\rdata: b\r\ndata: c\n\r\n", want: []sse.Event{msg("", "a\nb\nc")}},
		{name: "CR CR is two line endings", in: "data: a\r\rdata: b\r\r", want: []sse.Event{msg("", "a"), msg("", "b")}},
		{name: "LF CR is two line endings", in: "data: a\n\rdata: b\n\r", want: []sse.Event{msg("", "a"), msg("", "b")}},
		{name: "CR LF LF is two line endings", in: "data: a\r\n\ndata: b\r\n\n", want: []sse.Event{msg("", "a"), msg("", "b")}},

		// Byte order mark and UTF-8 decoding.
		{name: "leading BOM removed", in: "\xEF\xBB\xBFdata: a\n\n", want: []sse.Event{msg("", "a")}},
		{name: "BOM removed only once", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", want: []sse.Event{msg("", "b")}},
		{name: "BOM not at stream start is kept", in: "data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n", want: []sse.Event{msg("", "a"), msg("", "\uFEFFc")}},
		{name: "partial BOM is invalid UTF-8", in: "\xEF\xBBdata: a\n\ndata: b\n\n", want: []sse.Event{msg("", "b")}},
		{name: "BOM alone", in: "\xEF\xBB\xBF"},
		{name: "valid UTF-8 kept", in: "data: é€😀\n\n", want: []sse.Event{msg("", "é€😀")}},
		{name: "invalid UTF-8: truncated sequence then ASCII is one U+FFFD", in: "data: \xE2\x82A\n\n", want: []sse.Event{msg("", "\uFFFDA")}},
		{name: "invalid UTF-8: truncated sequence at end of line is one U+FFFD", in: "data: \xF0\x9F\x98\n\n", want: []sse.Event{msg("", "\uFFFD")}},
		{name: "invalid UTF-8: truncated sequence before CR is one U+FFFD", in: "data: \xF0\x9F\x98\r\r", want: []sse.Event{msg("", "\uFFFD")}},
		{name: "invalid UTF-8: overlong C0 80 is two U+FFFD", in: "data: \xC0\x80\n\n", want: []sse.Event{msg("", "\uFFFD\uFFFD")}},
		{name: "invalid UTF-8: overlong E0 80 80 is three U+FFFD", in: "data: \xE0\x80\x80\n\n", want: []sse.Event{msg("", "\uFFFD\uFFFD\uFFFD")}},
		{name: "invalid UTF-8: surrogate ED A0 80 is three U+FFFD", in: "data: \xED\xA0\x80\n\n", want: []sse.Event{msg("", "\uFFFD\uFFFD\uFFFD")}},
		{name: "invalid UTF-8: above U+10FFFF is four U+FFFD", in: "data: \xF4\x90\x80\x80\n\n", want: []sse.Event{msg("", "\uFFFD\uFFFD\uFFFD\uFFFD")}},
		{name: "invalid UTF-8: lone continuation and FF bytes", in: "data: a\x80b\xFFc\xF5\n\n", want: []sse.Event{msg("", "a\uFFFDb\uFFFDc\uFFFD")}},
		{name: "invalid UTF-8: truncated sequence then valid one", in: "data: \xF0\x9F\xF0\x9F\x98\x80\n\n", want: []sse.Event{msg("", "\uFFFD😀")}},
		{name: "invalid UTF-8 in a later data line", in: "data: a\ndata: \xE2\x82\n\n", want: []sse.Event{msg("", "a\n\uFFFD")}},
		{name: "invalid UTF-8 in id and event", in: "id: \xE2\x82\nevent: \xFF\ndata: a\n\n", want: []sse.Event{{ID: "\uFFFD", Type: "\uFFFD", Data: "a"}}, lastID: "\uFFFD"},
		{name: "invalid UTF-8 before the colon", in: "dat\xE1:\ndata\xE2\x82: x\ndata: y\n\n", want: []sse.Event{msg("", "y")}},

		// Fields.
		{name: "field without colon has empty value", in: "data\n\n", want: []sse.Event{msg("", "")}},
		{name: "field without colon joins as empty line", in: "data\ndata\ndata: a\n\n", want: []sse.Event{msg("", "\n\na")}},
		{name: "one leading space removed", in: "data: a\n\n", want: []sse.Event{msg("", "a")}},
		{name: "only one leading space removed", in: "data:  a\n\n", want: []sse.Event{msg("", " a")}},
		{name: "no space after colon", in: "data:a\n\n", want: []sse.Event{msg("", "a")}},
		{name: "tab after colon kept", in: "data:\ta\n\n", want: []sse.Event{msg("", "\ta")}},
		{name: "trailing spaces kept", in: "data: a  \n\n", want: []sse.Event{msg("", "a  ")}},
		{name: "value split at first colon only", in: "data: a: b:c\n\n", want: []sse.Event{msg("", "a: b:c")}},
		{name: "comment ignored", in: ": comment\ndata: a\n:\n: another\n\n", want: []sse.Event{msg("", "a")}},
		{name: "comment-only block dispatches nothing", in: ": ping\n\n: ping\n\n"},
		{name: "unknown field ignored", in: "foo: bar\nDATA: x\nData: y\nfoo\ndata: a\n\n", want: []sse.Event{msg("", "a")}},
		{name: "field name with space is unknown", in: "data : a\n\n"},
		{name: "field name with leading space is unknown", in: " data: a\n\n"},
		{name: "NUL in data kept", in: "data: a\x00b\n\n", want: []sse.Event{msg("", "a\x00b")}},

		// Data buffer.
		{name: "data lines joined with LF", in: "data: a\ndata: b\ndata: c\n\n", want: []sse.Event{msg("", "a\nb\nc")}},
		{name: "final LF removed once", in: "data: a\ndata\n\n", want: []sse.Event{msg("", "a\n")}},
		{name: "empty data line dispatches empty data", in: "data:\n\n", want: []sse.Event{msg("", "")}},
		{name: "two empty data lines dispatch one LF", in: "data\ndata\n\n", want: []sse.Event{msg("", "\n")}},
		{name: "event with empty data buffer not dispatched", in: "event: x\n\nretry: x\n\n"},
		{name: "blank lines without fields dispatch nothing", in: "\n\n\r\n\r\r"},
		{name: "data interleaved with other fields", in: "data: a\nevent: t\ndata: b\nid: 1\ndata: c\n\n", want: []sse.Event{{ID: "1", Type: "t", Data: "a\nb\nc"}}, lastID: "1"},

		// Event type.
		{name: "default type is message", in: "data: a\n\n", want: []sse.Event{msg("", "a")}},
		{name: "event sets type", in: "event: add\ndata: a\n\n", want: []sse.Event{{Type: "add", Data: "a"}}},
		{name: "last event field wins", in: "event: a\nevent: b\ndata: x\n\n", want: []sse.Event{{Type: "b", Data: "x"}}},
		{name: "empty event field means message", in: "event: a\nevent\ndata: x\n\n", want: []sse.Event{msg("", "x")}},
		{name: "event type reset after dispatch", in: "event: add\ndata: 1\n\ndata: 2\n\n", want: []sse.Event{{Type: "add", Data: "1"}, msg("", "2")}},
		{name: "event type reset by block without data", in: "event: add\n\ndata: 2\n\n", want: []sse.Event{msg("", "2")}},
		{name: "event type kept verbatim", in: "event:  Add Me \ndata: 1\n\n", want: []sse.Event{{Type: " Add Me ", Data: "1"}}},

		// Last event ID.
		{name: "id sets last event ID", in: "id: 1\ndata: a\n\n", want: []sse.Event{{ID: "1", Type: "message", Data: "a"}}, lastID: "1"},
		{name: "id persists across events", in: "id: 1\ndata: a\n\ndata: b\n\n", want: []sse.Event{msg("1", "a"), msg("1", "b")}, lastID: "1"},
		{name: "id after data in the block applies", in: "data: a\nid: 2\n\n", want: []sse.Event{msg("2", "a")}, lastID: "2"},
		{name: "last id field wins", in: "id: 1\nid: 2\ndata: a\n\n", want: []sse.Event{msg("2", "a")}, lastID: "2"},
		{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n", want: []sse.Event{msg("1", "a"), msg("1", "b")}, lastID: "1"},
		{name: "empty id resets", in: "id: 1\ndata: a\n\nid\ndata: b\n\n", want: []sse.Event{msg("1", "a"), msg("", "b")}},
		{name: "id: with colon and nothing resets", in: "id: 1\ndata: a\n\nid:\ndata: b\n\n", want: []sse.Event{msg("1", "a"), msg("", "b")}},
		{name: "id set by block without data", in: "id: 5\n\ndata: a\n\n", want: []sse.Event{msg("5", "a")}, lastID: "5"},
		{name: "last event ID updated by block without data", in: "id: 1\ndata: a\n\nid: 7\n\n", want: []sse.Event{msg("1", "a")}, lastID: "7"},
		{name: "id of unterminated block not in force", in: "id: 1\ndata: a\n\nid: 2\ndata: b\n", want: []sse.Event{msg("1", "a")}, lastID: "1"},
		{name: "id keeps spaces", in: "id:  a b \ndata: x\n\n", want: []sse.Event{msg(" a b ", "x")}, lastID: " a b "},

		// Reconnection time.
		{name: "retry sets reconnection time in ms", in: "retry: 1500\ndata: a\n\n", want: []sse.Event{{Type: "message", Data: "a", Retry: 1500 * ms}}, retry: 1500 * ms, hasRetry: true},
		{name: "retry zero is valid", in: "retry: 0\ndata: a\n\n", want: []sse.Event{msg("", "a")}, retry: 0, hasRetry: true},
		{name: "retry with leading zeros", in: "retry: 007\n\n", retry: 7 * ms, hasRetry: true},
		{name: "retry without data sets reconnection time", in: "retry: 10\n\n", retry: 10 * ms, hasRetry: true},
		{name: "retry in unterminated block sets reconnection time", in: "retry: 10\n", retry: 10 * ms, hasRetry: true},
		{name: "retry belongs to its block only", in: "retry: 10\ndata: a\n\ndata: b\n\n", want: []sse.Event{{Type: "message", Data: "a", Retry: 10 * ms}, msg("", "b")}, retry: 10 * ms, hasRetry: true},
		{name: "retry not all digits ignored", in: "retry: 10\n\nretry: 15x\nretry: -1\nretry: 1.5\nretry: +3\nretry: 1e3\nretry: \u0661\nretry: 2 \ndata: a\n\n", want: []sse.Event{msg("", "a")}, retry: 10 * ms, hasRetry: true},
		{name: "retry with a second leading space ignored", in: "retry:  15\n\n"},
		{name: "empty retry ignored", in: "retry: 10\n\nretry\nretry:\n\n", retry: 10 * ms, hasRetry: true},
		{name: "retry too large clamps", in: "retry: 99999999999999999999999\n\n", retry: time.Duration(1<<63 - 1), hasRetry: true},

		// End of stream.
		{name: "empty stream", in: ""},
		{name: "unterminated last event not dispatched", in: "data: a\n\ndata: b\n", want: []sse.Event{msg("", "a")}},
		{name: "unterminated last line not dispatched", in: "data: a\n\ndata: b", want: []sse.Event{msg("", "a")}},
		{name: "event ended by CR at end of stream dispatched", in: "data: a\r\r", want: []sse.Event{msg("", "a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := decoded{events: tt.want, err: io.EOF, lastID: tt.lastID, retry: tt.retry, hasRetry: tt.hasRetry}
			for how, r := range readers(tt.in) {
				got := decodeAll(t, r, 0)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: decoded %q\n got: %+v\nwant: %+v", how, tt.in, got, want)
				}
			}
			ref := refDecode([]byte(tt.in))
			if !reflect.DeepEqual(ref, refResult{tt.want, tt.lastID, tt.retry, tt.hasRetry}) {
				t.Errorf("reference decoder disagrees with the table: %+v", ref)
			}
		})
	}
}

// TestDecoderLineEndingSplitAcrossReads checks that a CR at the end of one
// read and an LF at the start of the next are one line ending, not two.
func TestDecoderLineEndingSplitAcrossReads(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   []sse.Event
	}{
		{name: "CR | LF is one line ending", chunks: []string{"data: a\r", "\ndata: b\r", "\n\r", "\n"}, want: []sse.Event{msg("", "a\nb")}},
		{name: "CR | CR is two line endings", chunks: []string{"data: a\r", "\rdata: b\r", "\r"}, want: []sse.Event{msg("", "a"), msg("", "b")}},
		{name: "CR | empty reads | LF is one line ending", chunks: []string{"data: a\r", "", "", "\ndata: b\r\n", "\r\n"}, want: []sse.Event{msg("", "a\nb")}},
		{name: "BOM split across reads removed", chunks: []string{"\xEF", "\xBB", "\xBFdata: a\n\n"}, want: []sse.Event{msg("", "a")}},
		{name: "BOM prefix split across reads is not a BOM", chunks: []string{"\xEF", "\xBB", "data: a\n\ndata: b\n\n"}, want: []sse.Event{msg("", "b")}},
		{name: "UTF-8 sequence split across reads", chunks: []string{"data: \xF0\x9F", "\x98\x80\n\n"}, want: []sse.Event{msg("", "😀")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeAll(t, &chunkReader{chunks: tt.chunks}, 0)
			want := decoded{events: tt.want, err: io.EOF}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestDecoderReturnsEventsBeforeMoreInput checks that Decode returns an event
// as soon as its blank line has arrived, without waiting for more bytes.
func TestDecoderReturnsEventsBeforeMoreInput(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	dec := sse.NewDecoder(pr)
	go func() {
		// Each write blocks until the decoder reads it.
		_, _ = io.WriteString(pw, "data: one\n\n")
		_, _ = io.WriteString(pw, "data: two\r")
		_, _ = io.WriteString(pw, "\r")
	}()
	for _, want := range []string{"one", "two"} {
		ev, err := dec.Decode()
		if err != nil || ev.Data != want {
			t.Fatalf("Decode() = %+v, %v, want data %q", ev, err, want)
		}
	}
	pw.Close()
	if _, err := dec.Decode(); err != io.EOF {
		t.Fatalf("Decode at end = %v, want io.EOF", err)
	}
}

// TestDecoderReadErrors checks that a reader's error is returned as is, after
// the events that arrived before it.
func TestDecoderReadErrors(t *testing.T) {
	errBroken := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(errBroken))
	got := decodeAll(t, r, 0)
	if !reflect.DeepEqual(got.events, []sse.Event{msg("", "a")}) || got.err != errBroken {
		t.Fatalf("got %+v, want event a then %v", got, errBroken)
	}

	got = decodeAll(t, iotest.TimeoutReader(strings.NewReader("data: a\n\ndata: b\n\n")), 0)
	if !errors.Is(got.err, iotest.ErrTimeout) {
		t.Fatalf("got error %v, want %v", got.err, iotest.ErrTimeout)
	}
}

// emptyReader returns 0, nil forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestDecoderNoProgress(t *testing.T) {
	if got := decodeAll(t, emptyReader{}, 0); got.err != io.ErrNoProgress {
		t.Fatalf("got error %v, want io.ErrNoProgress", got.err)
	}
}

// countingReader yields n bytes of b, counting what it handed out.
type countingReader struct {
	b    byte
	n    int64
	read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read == r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.read)]
	for i := range p {
		p[i] = r.b
	}
	r.read += int64(len(p))
	return len(p), nil
}

// TestDecoderMaxEventSize checks that the decoder refuses lines and events
// over MaxEventSize with ErrEventTooLarge, and accepts those at the limit.
func TestDecoderMaxEventSize(t *testing.T) {
	const limit = 64
	line := func(n int) string { return "data: " + strings.Repeat("x", n-len("data: ")) + "\n" }
	var twenty []sse.Event
	for range 20 {
		twenty = append(twenty, msg("", "0123456789"))
	}
	tests := []struct {
		name    string
		in      string
		want    []sse.Event
		tooBig  bool
		maxSize int
	}{
		{name: "line at the limit accepted", in: line(limit) + "\n", want: []sse.Event{msg("", strings.Repeat("x", limit-6))}},
		{name: "line over the limit refused", in: line(limit+1) + "\n", tooBig: true},
		{name: "comment over the limit refused", in: ":" + strings.Repeat("x", limit) + "\n\n", tooBig: true},
		{name: "unterminated line over the limit refused", in: "data: a\n\n" + strings.Repeat("x", limit+1), want: []sse.Event{msg("", "a")}, tooBig: true},
		{name: "unterminated line at the limit is just dropped", in: "data: a\n\n" + strings.Repeat("x", limit), want: []sse.Event{msg("", "a")}},
		// Five lines gather 50 bytes of data (with their LFs); a 15-byte line then exceeds 64.
		{name: "data plus line over the limit refused", in: strings.Repeat("data: 012345678\n", 5) + "data: 012345678\n\n", tooBig: true},
		{name: "data plus line at the limit accepted", in: strings.Repeat("data: 012345678\n", 5) + "data: 01234567\n\n", want: []sse.Event{msg("", strings.Repeat("012345678\n", 5)+"01234567")}},
		{name: "limit counts data as read, not as decoded", in: "data:" + strings.Repeat("\xFF", 59) + "\n\n", want: []sse.Event{msg("", strings.Repeat("\uFFFD", 59))}},
		{name: "limit applies per event", in: strings.Repeat("data: 0123456789\n\n", 20), want: twenty},
		{name: "default limit", in: line(sse.DefaultMaxEventSize+1) + "\n", tooBig: true, maxSize: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxSize := limit
			if tt.maxSize != 0 {
				maxSize = tt.maxSize
			}
			for how, r := range readers(tt.in) {
				got := decodeAll(t, r, maxSize)
				if !reflect.DeepEqual(got.events, tt.want) {
					t.Errorf("%s: got events %+v, want %+v", how, got.events, tt.want)
				}
				if tt.tooBig != errors.Is(got.err, sse.ErrEventTooLarge) || (!tt.tooBig && got.err != io.EOF) {
					t.Errorf("%s: got error %v, want ErrEventTooLarge: %v", how, got.err, tt.tooBig)
				}
			}
		})
	}
}

// TestDecoderHugeLineFailsFast feeds a 10 GB line without a line ending: the
// decoder must give up after reading about MaxEventSize bytes, not hold them.
func TestDecoderHugeLineFailsFast(t *testing.T) {
	for _, maxSize := range []int{0, 1000} {
		t.Run(fmt.Sprint("MaxEventSize=", maxSize), func(t *testing.T) {
			r := &countingReader{b: 'x', n: 10 << 30}
			got := decodeAll(t, r, maxSize)
			if !errors.Is(got.err, sse.ErrEventTooLarge) {
				t.Fatalf("got error %v, want ErrEventTooLarge", got.err)
			}
			limit := int64(maxSize)
			if limit == 0 {
				limit = sse.DefaultMaxEventSize
			}
			if r.read > limit+4096 {
				t.Fatalf("decoder read %d bytes before failing, want at most %d", r.read, limit+4096)
			}
			if !strings.Contains(got.err.Error(), fmt.Sprint(limit)) {
				t.Errorf("error %q does not say the limit %d", got.err, limit)
			}
		})
	}
}

// TestDecoderSetMaxEventSize checks that SetMaxEventSize is the field.
func TestDecoderSetMaxEventSize(t *testing.T) {
	dec := sse.NewDecoder(strings.NewReader("data: 0123456789\n\n"))
	dec.SetMaxEventSize(10)
	if dec.MaxEventSize != 10 {
		t.Fatalf("MaxEventSize = %d after SetMaxEventSize(10)", dec.MaxEventSize)
	}
	if _, err := dec.Decode(); !errors.Is(err, sse.ErrEventTooLarge) {
		t.Fatalf("Decode() error = %v, want ErrEventTooLarge", err)
	}
}

// TestDecoderAllocs checks that decoding a typical event allocates only its
// strings: the data and the new id, in one allocation.
func TestDecoderAllocs(t *testing.T) {
	var b []byte
	for i := range 200 {
		b = fmt.Appendf(b, "id: %d\nevent: update\ndata: {\"n\":%d}\n\n", i, i)
	}
	dec := sse.NewDecoder(&loopReader{p: b})
	for range 10 { // warm up the buffers
		if _, err := dec.Decode(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := dec.Decode(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Decode allocates %v times per event, want at most 1 (data and id together)", allocs)
	}
}

// loopReader returns p over and over.
type loopReader struct {
	p   []byte
	off int
}

func (r *loopReader) Read(b []byte) (int, error) {
	n := copy(b, r.p[r.off:])
	r.off = (r.off + n) % len(r.p)
	return n, nil
}

// TestDecoderSetLastEventID: a last event ID carried over from a previous
// connection is in force until the stream sets its own, and one holding NUL
// is ignored.
func TestDecoderSetLastEventID(t *testing.T) {
	d := sse.NewDecoder(strings.NewReader("\xEF\xBB\xBFdata: a\n\nid: 7\ndata: b\n\nid\ndata: c\n\n"))
	d.SetLastEventID("6")
	if got := d.LastEventID(); got != "6" {
		t.Fatalf("LastEventID before any read = %q, want %q", got, "6")
	}
	for _, want := range []sse.Event{
		{ID: "6", Type: "message", Data: "a"},
		{ID: "7", Type: "message", Data: "b"},
		{ID: "", Type: "message", Data: "c"},
	} {
		ev, err := d.Decode()
		if err != nil || ev != want {
			t.Fatalf("Decode = %+v, %v; want %+v", ev, err, want)
		}
	}
	n := sse.NewDecoder(strings.NewReader("data: x\n\n"))
	n.SetLastEventID("bad\x00id")
	if ev, _ := n.Decode(); ev.ID != "" {
		t.Fatalf("an id holding NUL was taken: %q", ev.ID)
	}
}

// TestDecoderOnComment: a Decoder with OnComment reports each comment line's
// text, in order with the events, however the stream is split into reads;
// the events are the same as without it.
func TestDecoderOnComment(t *testing.T) {
	const in = "\xEF\xBB\xBF:first\r\n" +
		": heartbeat\n" +
		":  two spaces\r" +
		":\n" +
		"data: a\n" +
		":in an event\n" +
		"data: b\n\n" +
		":bad \xE2\x82 utf-8\r\n" +
		"\n" +
		": not a comment: unterminated"
	want := []string{
		"comment first", "comment heartbeat", "comment  two spaces", "comment ",
		"comment in an event", "event a\nb", "comment bad \uFFFD utf-8",
	}
	for how, r := range readers(in) {
		var got []string
		dec := sse.NewDecoder(r)
		dec.OnComment = func(text string) { got = append(got, "comment "+text) }
		for {
			ev, err := dec.Decode()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("%s: %v", how, err)
				}
				break
			}
			got = append(got, "event "+ev.Data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q\nwant %q", how, got, want)
		}
	}
}

// TestDecoderOnCommentCountsAgainstMaxEventSize: a comment line is bounded
// like any other line.
func TestDecoderOnCommentCountsAgainstMaxEventSize(t *testing.T) {
	dec := sse.NewDecoder(strings.NewReader(":" + strings.Repeat("x", 100) + "\n"))
	dec.MaxEventSize = 50
	dec.OnComment = func(text string) { t.Errorf("comment of %d bytes reported", len(text)) }
	if _, err := dec.Decode(); !errors.Is(err, sse.ErrEventTooLarge) {
		t.Fatalf("Decode = %v, want ErrEventTooLarge", err)
	}
}
