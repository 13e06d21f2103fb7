package sse_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/herald-sse/herald/sse"
)

// benchEvents are the events the benchmarks encode and decode: a small one
// (about 100 bytes on the wire), a medium one (a 4 KiB data line) and a
// large one (1 MiB of data in 100-byte lines). bench/parser uses the same.
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

// benchStream returns at least 64 KiB of copies of ev, each with its own id
// (as a hub sends them), and the length of one event on the wire.
func benchStream(b *testing.B, ev sse.Event) ([]byte, int) {
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

func BenchmarkEncode(b *testing.B) {
	for _, bc := range benchEvents() {
		b.Run(bc.name, func(b *testing.B) {
			ev := bc.ev
			ev.ID += "000042"
			wire, err := sse.AppendEvent(nil, ev)
			if err != nil {
				b.Fatal(err)
			}
			enc := sse.NewEncoder(bufio.NewWriterSize(io.Discard, 64<<10))
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				if err := enc.Encode(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchEvents() {
		b.Run(bc.name, func(b *testing.B) {
			stream, n := benchStream(b, bc.ev)
			dec := sse.NewDecoder(&loopReader{p: stream})
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				ev, err := dec.Decode()
				if err != nil {
					b.Fatal(err)
				}
				if len(ev.Data) != len(bc.ev.Data) {
					b.Fatalf("decoded %d bytes of data, want %d", len(ev.Data), len(bc.ev.Data))
				}
			}
		})
	}
}
