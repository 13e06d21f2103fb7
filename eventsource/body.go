package eventsource

import (
	"io"
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
