package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunk encodes s in HTTP/1.1 chunks of at most n bytes, with the final
// empty chunk.
func chunk(s string, n int) string {
	var b strings.Builder
	for len(s) > 0 {
		k := min(n, len(s))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", k, s[:k])
		s = s[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

const stream = ": welcome\n\n" +
	"id: a1\ndata: first\n\n" +
	"event: x\nid:a2\ndata:second\ndata: ignored\n\n" +
	"retry: 100\n\n" +
	"id: a3\r\ndata: third\r\n\r\n" +
	"data: no id\n\n" +
	"id: a5\ndata: partial, never dispatched\n"

func readAll(t *testing.T, r io.Reader, bufSize int) (events []string, lastID string, err error) {
	t.Helper()
	s := newStreamReader(r, bufSize, 1<<20)
	resp, err := s.readHead()
	if err != nil {
		return nil, "", err
	}
	if resp.status != 200 {
		t.Fatalf("status %d", resp.status)
	}
	for range 100000 {
		s.fill()
		err = s.process(func(data []byte) { events = append(events, string(data)) })
		if err != nil {
			return events, string(s.lastID), err
		}
	}
	t.Fatal("the stream never ended")
	return
}

func TestStreamReader(t *testing.T) {
	want := []string{"first", "second", "third", "no id"}
	for _, c := range []struct {
		name string
		resp string
	}{
		{"chunked-1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(stream, 1)},
		{"chunked-7", "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n" + chunk(stream, 7)},
		{"chunked-all", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(stream, 1<<20)},
		{"close-delimited", "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + stream},
	} {
		for _, bufSize := range []int{16, 64, 4096} {
			for _, oneByte := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/buf%d/onebyte=%v", c.name, bufSize, oneByte), func(t *testing.T) {
					var r io.Reader = strings.NewReader(c.resp)
					if oneByte {
						r = iotest.OneByteReader(r)
					}
					got, lastID, err := readAll(t, r, max(bufSize, 128))
					if err != io.EOF {
						t.Fatalf("err = %v, want io.EOF", err)
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("events = %q, want %q", got, want)
					}
					// a5 belongs to an event that was never dispatched.
					if lastID != "a3" {
						t.Errorf("last event id = %q, want a3", lastID)
					}
				})
			}
		}
	}
}

func TestStreamReaderGrowsForLargeEvents(t *testing.T) {
	big := strings.Repeat("x", 10000)
	resp := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("id: 1\ndata: "+big+"\n\n", 3000)
	got, _, err := readAll(t, strings.NewReader(resp), 128)
	if err != io.EOF || len(got) != 1 || got[0] != big {
		t.Fatalf("got %d events, err %v", len(got), err)
	}
	// Beyond the limit, the reader refuses.
	s := newStreamReader(strings.NewReader("HTTP/1.1 200 OK\r\n\r\ndata: "+big+"\n\n"), 128, 1024)
	if _, err := s.readHead(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		s.fill()
		if err = s.process(func([]byte) {}); err != nil {
			break
		}
	}
	if err != errLineTooLong {
		t.Fatalf("err = %v, want errLineTooLong", err)
	}
}

func TestStreamReaderErrors(t *testing.T) {
	s := newStreamReader(strings.NewReader("HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nbad token!\r\n"), 256, 1024)
	resp, err := s.readHead()
	if err != nil || resp.status != 401 {
		t.Fatalf("status %d, err %v", resp.status, err)
	}
	if body := s.errorBody(); body != "bad token!" {
		t.Errorf("body = %q", body)
	}
	bad := newStreamReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), 256, 1024)
	if _, err := bad.readHead(); err != nil {
		t.Fatal(err)
	}
	bad.fill()
	if err := bad.process(func([]byte) {}); err == nil || err == io.EOF {
		t.Errorf("malformed chunk size: err = %v", err)
	}
	if _, err := newStreamReader(strings.NewReader("HTTP/1.1 200"), 256, 1024).readHead(); err == nil {
		t.Error("a truncated head should fail")
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, size := range []int{0, 10, 100, 1000} {
		b := appendPayload([]byte("keep"), 12, 345678, 1732198765123456789, size)
		if !bytes.HasPrefix(b, []byte("keep")) {
			t.Fatal("appendPayload must append")
		}
		p := b[4:]
		if len(p) < size {
			t.Errorf("size %d: payload is %d bytes", size, len(p))
		}
		pub, seq, ts, ok := parsePayload(p)
		if !ok || pub != 12 || seq != 345678 || ts != 1732198765123456789 {
			t.Errorf("size %d: parsed %d %d %d %v", size, pub, seq, ts, ok)
		}
	}
	for _, bad := range []string{"", "hello", "1.2", "1.2.3", "a.2.3.", "1..3.", "99999999999999999999999.1.1."} {
		if _, _, _, ok := parsePayload([]byte(bad)); ok {
			t.Errorf("parsePayload(%q) accepted", bad)
		}
	}
}

func TestStreamsAndSlotsAgree(t *testing.T) {
	for _, c := range [][2]int{{1, 1}, {1, 4}, {4, 1}, {3, 10}, {10, 3}, {16, 5000}, {7, 7}} {
		topics, pubs := c[0], c[1]
		seen := map[[2]int]bool{}
		for p := range pubs {
			for _, tp := range topicsOf(p, topics, pubs) {
				seen[[2]int{p, tp}] = true
				slot, ok := slotOf(p, tp, topics, pubs)
				streams := streamsOf(tp, topics, pubs)
				if !ok || slot >= len(streams) || streams[slot] != p {
					t.Errorf("topics %d publishers %d: publisher %d topic %d: slot %d %v, streams %v", topics, pubs, p, tp, slot, ok, streams)
				}
			}
		}
		for tp := range topics {
			for _, p := range streamsOf(tp, topics, pubs) {
				if !seen[[2]int{p, tp}] {
					t.Errorf("topics %d publishers %d: topic %d expects publisher %d, which never sends to it", topics, pubs, tp, p)
				}
			}
			if len(streamsOf(tp, topics, pubs)) == 0 {
				t.Errorf("topics %d publishers %d: topic %d has no publisher", topics, pubs, tp)
			}
		}
	}
}
