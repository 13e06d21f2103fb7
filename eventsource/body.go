package eventsource

import (
	"bufio"
	"io"
	"strings"
	"time"
)

// watchdog implements Reconnect.ReadTimeout: it calls expire when it stays
// armed for its whole timeout. It is armed only while the client waits for
// bytes from the server, so a slow consumer never trips it. A nil *watchdog
// never expires.
type watchdog struct {
	d time.Duration
	t *time.Timer
}

// newWatchdog returns a watchdog, armed, that calls expire after d, or nil
// when d is not positive.
func newWatchdog(d time.Duration, expire func()) *watchdog {
	if d <= 0 {
		return nil
	}
	return &watchdog{d: d, t: time.AfterFunc(d, expire)}
}

// arm (re)starts the countdown from d.
func (w *watchdog) arm() {
	if w != nil {
		w.t.Reset(w.d)
	}
}

// disarm stops the countdown.
func (w *watchdog) disarm() {
	if w != nil {
		w.t.Stop()
	}
}

// watchedReader arms its watchdog for the duration of each Read, so that
// the watchdog expires only when the server sends nothing for its timeout.
type watchedReader struct {
	r io.Reader
	w *watchdog
}

func (b watchedReader) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.r.Read(p)
	b.w.disarm()
	return n, err
}

const bom = "\xEF\xBB\xBF"

// seedLastEventID returns body preceded by a block that sets the last event
// ID to id without dispatching an event, so that a new connection's
// [sse.Decoder] starts from the last event ID in force, as a browser's
// EventSource keeps it across reconnections. Because the block goes before
// the body, a byte order mark starting the body, which the decoder would
// strip only at the very start, is stripped here.
func seedLastEventID(body io.Reader, id string) io.Reader {
	if id == "" {
		return body
	}
	br := bufio.NewReaderSize(body, 16)
	if p, _ := br.Peek(len(bom)); string(p) == bom {
		br.Discard(len(bom))
	}
	// One space after the colon: the decoder removes exactly one, so an id
	// that itself starts with a space survives.
	return io.MultiReader(strings.NewReader("id: "+id+"\n\n"), br)
}
