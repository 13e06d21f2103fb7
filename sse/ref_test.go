package sse_test

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-sse/herald/sse"
)

// This file holds a reference decoder written directly from the WHATWG HTML
// standard's "Parsing an event stream" and "Interpreting an event stream",
// step by step and without regard for speed, so the fuzz tests can check the
// fast Decoder against it. It works on the whole stream at once.

// refResult is what the reference decoder observes for a whole stream.
type refResult struct {
	events   []sse.Event
	lastID   string
	retry    time.Duration
	hasRetry bool
}

// refUTF8Decode is the Encoding standard's "UTF-8 decode": it strips one
// leading BOM and runs the UTF-8 decoder's byte state machine, emitting
// U+FFFD for each error.
func refUTF8Decode(p []byte) []rune {
	if len(p) >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF {
		p = p[3:]
	}
	return refUTF8Decoder(p)
}

// refUTF8Decoder is the Encoding standard's UTF-8 decoder (section 8.1.1),
// without BOM handling.
func refUTF8Decoder(p []byte) []rune {
	var out []rune
	var cp rune
	seen, needed := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; ; i++ {
		if i == len(p) {
			if needed != 0 {
				out = append(out, utf8.RuneError)
			}
			return out
		}
		b := p[i]
		if needed == 0 {
			switch {
			case b <= 0x7F:
				out = append(out, rune(b))
			case b >= 0xC2 && b <= 0xDF:
				needed, cp = 1, rune(b&0x1F)
			case b >= 0xE0 && b <= 0xEF:
				if b == 0xE0 {
					lower = 0xA0
				}
				if b == 0xED {
					upper = 0x9F
				}
				needed, cp = 2, rune(b&0xF)
			case b >= 0xF0 && b <= 0xF4:
				if b == 0xF0 {
					lower = 0x90
				}
				if b == 0xF4 {
					upper = 0x8F
				}
				needed, cp = 3, rune(b&0x7)
			default:
				out = append(out, utf8.RuneError)
			}
			continue
		}
		if b < lower || b > upper {
			cp, needed, seen = 0, 0, 0
			lower, upper = 0x80, 0xBF
			out = append(out, utf8.RuneError)
			i-- // restore b to the stream
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(b&0x3F)
		seen++
		if seen == needed {
			out = append(out, cp)
			cp, needed, seen = 0, 0, 0
		}
	}
}

// refDecode decodes a whole stream as the standard describes.
func refDecode(stream []byte) refResult {
	var res refResult
	runes := refUTF8Decode(stream)
	// Split into lines: end-of-line = ( cr lf / cr / lf ). Whatever follows
	// the last end-of-line is an incomplete line, discarded at end of file.
	var lines []string
	var cur []rune
	for i := 0; i < len(runes); i++ {
		switch runes[i] {
		case '\r':
			if i+1 < len(runes) && runes[i+1] == '\n' {
				i++
			}
			fallthrough
		case '\n':
			lines = append(lines, string(cur))
			cur = cur[:0]
		default:
			cur = append(cur, runes[i])
		}
	}
	var data, eventType, lastIDBuf strings.Builder
	var blockRetry time.Duration
	for _, line := range lines {
		var field, value string
		switch {
		case line == "":
			// Dispatch the event.
			res.lastID = lastIDBuf.String()
			retry := blockRetry
			blockRetry = 0
			if data.Len() == 0 {
				data.Reset()
				eventType.Reset()
				continue
			}
			d := data.String()
			d = strings.TrimSuffix(d, "\n")
			typ := eventType.String()
			if typ == "" {
				typ = "message"
			}
			res.events = append(res.events, sse.Event{ID: res.lastID, Type: typ, Data: d, Retry: retry})
			data.Reset()
			eventType.Reset()
			continue
		case strings.HasPrefix(line, ":"):
			continue
		case strings.Contains(line, ":"):
			field, value, _ = strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
		default:
			field = line
		}
		switch field {
		case "event":
			eventType.Reset()
			eventType.WriteString(value)
		case "data":
			data.WriteString(value)
			data.WriteString("\n")
		case "id":
			if !strings.Contains(value, "\x00") {
				lastIDBuf.Reset()
				lastIDBuf.WriteString(value)
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				var ms int64
				overflow := false
				for _, c := range value {
					if ms > (1<<63-1-9)/10 {
						overflow = true
					}
					ms = ms*10 + int64(c-'0')
				}
				d := time.Duration(1<<63 - 1)
				if !overflow && ms <= (1<<63-1)/int64(time.Millisecond) {
					d = time.Duration(ms) * time.Millisecond
				}
				res.retry, res.hasRetry, blockRetry = d, true, d
			}
		}
	}
	return res
}
