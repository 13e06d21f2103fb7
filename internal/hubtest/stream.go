package hubtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/herald-sse/herald/sse"
)

// Stream is an open subscription, read by its own goroutine with the real
// sse.Decoder into a large buffer, so that the hub never waits for the test
// to read.
type Stream struct {
	Response *http.Response // the subscription's response; its Body is being read
	Decoder  *sse.Decoder   // the reader's decoder (Retry, say, may be asked)
	cancel   context.CancelFunc
	events   chan sse.Event
	done     chan struct{} // closed when the reader stops; err is then set
	err      error         // io.EOF for a clean end
}

// Subscribe opens a stream with query (without the leading "?") and the
// headers in hdr, requires a 200 text/event-stream answer, and ends the
// stream when the test ends.
func (e *Env) Subscribe(t testing.TB, query string, hdr http.Header) *Stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp := e.Get(t, ctx, "?"+query, hdr)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe ?%s: %s: %s", query, resp.Status, b)
	}
	if mt := MediaType(resp); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe answered with Content-Type %q", resp.Header.Get("Content-Type"))
	}
	return StartStream(t, resp, cancel)
}

// StartStream reads resp's events in a goroutine until the stream ends or
// the test does. cancel ends resp's request. When the test ends, the stream
// is closed and its reader must stop within WaitTimeout.
func StartStream(t testing.TB, resp *http.Response, cancel context.CancelFunc) *Stream {
	s := &Stream{
		Response: resp,
		Decoder:  sse.NewDecoder(resp.Body),
		cancel:   cancel,
		events:   make(chan sse.Event, 1<<14),
		done:     make(chan struct{}),
	}
	stop := make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			ev, err := s.Decoder.Decode()
			if err != nil {
				s.err = err
				return
			}
			select {
			case s.events <- ev:
			case <-stop:
				s.err = errors.New("stopped by the test")
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		s.Close()
		select {
		case <-s.done:
		case <-time.After(WaitTimeout):
			t.Errorf("a stream's reader did not stop within %v of its cancellation", WaitTimeout)
		}
	})
	return s
}

// Close ends the stream from the client's side: it cancels the request and
// closes the response's body. It may be called more than once.
func (s *Stream) Close() {
	s.cancel()
	s.Response.Body.Close()
}

// Next returns the next event, failing the test if none comes within
// WaitTimeout or the stream ends first.
func (s *Stream) Next(t testing.TB) sse.Event {
	t.Helper()
	ev, err := s.NextErr()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// NextErr is Next for goroutines other than the test's: it returns an error
// instead of failing the test. Events read before the stream ended are still
// returned first.
func (s *Stream) NextErr() (sse.Event, error) {
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	select {
	case ev := <-s.events:
		return ev, nil
	case <-s.done:
		select {
		case ev := <-s.events:
			return ev, nil
		default:
		}
		return sse.Event{}, errors.New("the stream ended while an event was awaited: " + s.err.Error())
	case <-timer.C:
		return sse.Event{}, errors.New("no event within " + WaitTimeout.String())
	}
}

// Until returns the events up to and including the one with id, failing the
// test as Next does if it does not come.
func (s *Stream) Until(t testing.TB, id string) []sse.Event {
	t.Helper()
	var evs []sse.Event
	for {
		ev := s.Next(t)
		evs = append(evs, ev)
		if ev.ID == id {
			return evs
		}
	}
}

// End waits for the stream to end (from the server's side), failing the
// test if it does not within WaitTimeout, and returns the events that were
// still unread and the reader's final error (io.EOF for a clean end).
func (s *Stream) End(t testing.TB) ([]sse.Event, error) {
	t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	var evs []sse.Event
	for {
		select {
		case ev := <-s.events:
			evs = append(evs, ev)
		case <-s.done:
			for {
				select {
				case ev := <-s.events:
					evs = append(evs, ev)
				default:
					return evs, s.err
				}
			}
		case <-timer.C:
			t.Fatalf("the stream did not end within %v", WaitTimeout)
		}
	}
}

// Datas returns the Data of each event.
func Datas(evs []sse.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Data
	}
	return out
}

// IDs returns the ID of each event.
func IDs(evs []sse.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// Sentinel is a topic every test subscription selects, so that a test can
// publish to it to know that everything before has been delivered.
const Sentinel = "urn:test:sentinel"

// Flush publishes "sentinel" to the Sentinel topic and returns, for each of
// subs (which must select Sentinel), the events it received up to it, the
// sentinel excluded.
func (e *Env) Flush(t testing.TB, subs ...*Stream) [][]sse.Event {
	t.Helper()
	id := e.PublishData(t, "sentinel", Sentinel)
	out := make([][]sse.Event, len(subs))
	for i, s := range subs {
		evs := s.Until(t, id)
		out[i] = evs[:len(evs)-1]
	}
	return out
}
