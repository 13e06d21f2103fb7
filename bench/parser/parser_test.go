package parser

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/herald-sse/herald/sse"
)

// maxEventSize is the event size limit both decoders get: large enough for
// the large event, which go-sse's default (64 KiB) is not.
const maxEventSize = 4 << 20

// benchEvents are the same events as the sse package's own benchmarks: a
// small one (about 100 bytes on the wire), a medium one (a 4 KiB data line)
// and a large one (1 MiB of data in 100-byte lines).
func benchEvents() []struct {
	name string
	ev   sse.Event
} {
	medium := strings.Repeat(`{"k":"0123456789abcdef"},`, 4096/25+1)[:4096]
	line := strings.Repeat("abcdefghij", 10)[:99] + "\n"
	large := strings.Repeat(line, (1<<20)/len(line)+1)[:1<<20]
	return []struct {
		name string
		ev   sse.Event
	}{
		{"small", sse.Event{ID: "", Type: "update", Data: `{"topic":"https://example.com/books/1","price":42,"stock":17,"ok":1}`}},
		{"medium", sse.Event{ID: "urn:herald:a1:", Type: "update", Data: medium}},
		{"large", sse.Event{ID: "urn:herald:a1:", Type: "update", Data: large}},
	}
}

// loopReader returns p over and over, so a decoder can read b.N events.
type loopReader struct {
	p   []byte
	off int
}

func (r *loopReader) Read(b []byte) (int, error) {
	n := copy(b, r.p[r.off:])
	r.off = (r.off + n) % len(r.p)
	return n, nil
}

// stream returns at least 64 KiB of copies of ev, each with its own id (as a
// hub sends them), and the length of one event on the wire.
func stream(b *testing.B, ev sse.Event) ([]byte, int) {
	var s []byte
	n := 0
	for i := 0; len(s) < 64<<10; i++ {
		e := ev
		e.ID = fmt.Sprintf("%s%06d", ev.ID, i)
		var err error
		if s, err = sse.AppendEvent(s, e); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			n = len(s)
		}
	}
	return s, n
}

// TestSameEvents checks that both decoders read the benchmark streams to the
// same events, so the benchmarks compare equal work.
func TestSameEvents(t *testing.T) {
	for _, bc := range benchEvents() {
		var s []byte
		for i := range 3 {
			ev := bc.ev
			ev.ID = fmt.Sprintf("%s%06d", ev.ID, i)
			var err error
			if s, err = sse.AppendEvent(s, ev); err != nil {
				t.Fatal(err)
			}
		}
		var herald, peer []string
		dec := sse.NewDecoder(strings.NewReader(string(s)))
		for {
			ev, err := dec.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			herald = append(herald, ev.ID+"|"+ev.Type+"|"+ev.Data)
		}
		for ev, err := range gosse.Read(strings.NewReader(string(s)), &gosse.ReadConfig{MaxEventSize: maxEventSize}) {
			if err != nil {
				t.Fatal(err)
			}
			peer = append(peer, ev.LastEventID+"|"+ev.Type+"|"+ev.Data)
		}
		if len(herald) != 3 || strings.Join(herald, "\n") != strings.Join(peer, "\n") {
			t.Errorf("%s: herald and go-sse decode different events (%d and %d)", bc.name, len(herald), len(peer))
		}
	}
}

// BenchmarkDecode decodes a stream of identical events, one per iteration.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchEvents() {
		b.Run("impl=herald/size="+bc.name, func(b *testing.B) {
			s, n := stream(b, bc.ev)
			dec := sse.NewDecoder(&loopReader{p: s})
			dec.MaxEventSize = maxEventSize
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for range b.N {
				ev, err := dec.Decode()
				if err != nil {
					b.Fatal(err)
				}
				if len(ev.Data) != len(bc.ev.Data) {
					b.Fatalf("decoded %d bytes of data, want %d", len(ev.Data), len(bc.ev.Data))
				}
			}
		})
		b.Run("impl=gosse/size="+bc.name, func(b *testing.B) {
			s, n := stream(b, bc.ev)
			r := &loopReader{p: s}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			i := 0
			for ev, err := range gosse.Read(r, &gosse.ReadConfig{MaxEventSize: maxEventSize}) {
				if err != nil {
					b.Fatal(err)
				}
				if len(ev.Data) != len(bc.ev.Data) {
					b.Fatalf("decoded %d bytes of data, want %d", len(ev.Data), len(bc.ev.Data))
				}
				if i++; i == b.N {
					break
				}
			}
		})
	}
}

// BenchmarkEncode writes one event per iteration to a buffered writer, from
// its fields, as a server does when it is handed an event to send.
func BenchmarkEncode(b *testing.B) {
	for _, bc := range benchEvents() {
		ev := bc.ev
		ev.ID += "000042"
		wire, err := sse.AppendEvent(nil, ev)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("impl=herald/size="+bc.name, func(b *testing.B) {
			enc := sse.NewEncoder(bufio.NewWriterSize(io.Discard, 64<<10))
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for range b.N {
				if err := enc.Encode(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl=gosse/size="+bc.name, func(b *testing.B) {
			w := bufio.NewWriterSize(io.Discard, 64<<10)
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for range b.N {
				m := &gosse.Message{ID: gosse.ID(ev.ID), Type: gosse.Type(ev.Type), Retry: ev.Retry}
				m.AppendData(ev.Data)
				if _, err := m.WriteTo(w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
