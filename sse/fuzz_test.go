package sse_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/herald-sse/herald/sse"
)

// FuzzRoundTrip checks that every event the encoder accepts decodes to
// itself, with line breaks in Data normalised to LF (and bytes that are not
// UTF-8 decoded as U+FFFD), and that the encoder refuses every event it
// cannot encode faithfully.
func FuzzRoundTrip(f *testing.F) {
	f.Add("1", "update", "hello\nworld", int64(1500*time.Millisecond), false, "ping")
	f.Add("", "", "", int64(0), false, "")
	f.Add("", "t", "a\r\nb\rc\n", int64(time.Microsecond), true, "multi\nline")
	f.Add(" spaced", " t", " d", int64(-1), false, " c")
	f.Add("bad\nid", "t", "d", int64(0), false, "")
	f.Add("id", "bad\x00type", "d", int64(0), false, "")
	f.Add("id", "t", "\xE2\x82A\xF0\x9F\x98\n\xED\xA0\x80", int64(0), true, "\r")
	f.Fuzz(func(t *testing.T, id, typ, data string, retry int64, resetID bool, comment string) {
		ev := sse.Event{ID: id, Type: typ, Data: data, Retry: time.Duration(retry), ResetID: resetID}
		b, err := sse.AppendEvent(nil, ev)
		invalid := strings.ContainsAny(id, "\r\n\x00") || strings.ContainsAny(typ, "\r\n\x00") || (resetID && id != "")
		if invalid {
			if !errors.Is(err, sse.ErrInvalidField) || b != nil {
				t.Fatalf("AppendEvent(%+v) = %q, %v; want nothing and ErrInvalidField", ev, b, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("AppendEvent(%+v): %v", ev, err)
		}

		stream := append(sse.AppendComment(nil, comment), b...)
		want := sse.Event{
			ID:   string(refUTF8Decoder([]byte(id))),
			Type: string(refUTF8Decoder([]byte(typ))),
			Data: string(refUTF8Decoder([]byte(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data)))),
		}
		if want.Type == "" {
			want.Type = "message"
		}
		if ev.Retry > 0 {
			want.Retry = max(ev.Retry.Truncate(time.Millisecond), time.Millisecond)
		}
		got := decodeAll(t, bytes.NewReader(stream), 0)
		if len(got.events) != 1 || got.events[0] != want || got.err != io.EOF {
			t.Fatalf("stream %q decoded to %+v, want %+v then io.EOF", stream, got, want)
		}
		if ref := refDecode(stream); !reflect.DeepEqual(ref.events, got.events) {
			t.Fatalf("stream %q: reference decoder gives %+v", stream, ref.events)
		}
	})
}

// FuzzDecodeChunking checks that the decoder gives the same events, last
// event ID, reconnection time and error however the stream is split into
// reads, with any MaxEventSize, and the same as the reference decoder.
func FuzzDecodeChunking(f *testing.F) {
	seeds := []string{
		"data: a\n\n",
		"\xEF\xBB\xBFid: 1\r\nevent: e\r\ndata: a\r\ndata:  b\r\n\r\n",
		"data: a\rdata: b\r\r: c\nretry: 10\nid\n\n",
		"\xEF\xBB\xEF\xBB\xBFdata\n\ndata: \xE2\x82A\xF0\x9F\x98\r\n\r\n",
		"id: a\x00b\ndata: x\n\nretry: 12x\ndata\ndata\n\nevent: y\n\ndata: z\n",
		strings.Repeat("data: 0123456789\n", 20) + "\n" + strings.Repeat("x", 300),
		"data:\xFF\xFF\xFF\xFF\xFF\n\ndata: \xE2\x82\xE2\n\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{byte(i), 3, 1, 7}, uint16(i*40))
	}
	f.Fuzz(func(t *testing.T, stream, splits []byte, maxSize uint16) {
		whole := decodeAll(t, bytes.NewReader(stream), int(maxSize))
		readers := map[string]io.Reader{
			"bytewise": iotest.OneByteReader(bytes.NewReader(stream)),
			"split":    &splitReader{p: stream, sizes: splits},
			"dataerr":  iotest.DataErrReader(&splitReader{p: stream, sizes: splits}),
		}
		for how, r := range readers {
			if got := decodeAll(t, r, int(maxSize)); !sameDecoded(got, whole) {
				t.Fatalf("%s: stream %q with MaxEventSize %d\n got: %+v\nwant: %+v", how, stream, maxSize, got, whole)
			}
		}

		got := decodeAll(t, bytes.NewReader(stream), 0)
		ref := refDecode(stream)
		if !reflect.DeepEqual(got.events, ref.events) || got.lastID != ref.lastID ||
			got.retry != ref.retry || got.hasRetry != ref.hasRetry || got.err != io.EOF {
			t.Fatalf("stream %q\n got: %+v\n ref: %+v", stream, got, ref)
		}
	})
}

// sameDecoded reports whether a and b hold the same events, state and error
// message.
func sameDecoded(a, b decoded) bool {
	return reflect.DeepEqual(a.events, b.events) && a.lastID == b.lastID &&
		a.retry == b.retry && a.hasRetry == b.hasRetry && a.err.Error() == b.err.Error()
}

// splitReader returns p in reads of the sizes given by sizes (each plus
// one), cycling through them.
type splitReader struct {
	p     []byte
	sizes []byte
	i     int
}

func (r *splitReader) Read(b []byte) (int, error) {
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	n := len(r.p)
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = copy(b, r.p[:min(n, len(r.p))])
	r.p = r.p[n:]
	return n, nil
}
