package hub

import (
	"fmt"
	"testing"
)

func (o owner) String() string {
	return [...]string{"request", "nobody", "writer"}[o]
}

func (p phase) String() string {
	return [...]string{"open", "ending", "closed", "released"}[p]
}

// TestStateTransitions checks every event in every reachable state against
// the table in state.go.
func TestStateTransitions(t *testing.T) {
	type st = state
	for _, tc := range []struct {
		from  st
		event string
		to    st
		says  string // what the caller is told to do
	}{
		{st{ownedByRequest, phaseOpen, ""}, "live", st{ownedByNobody, phaseOpen, ""}, ""},
		{st{ownedByRequest, phaseOpen, ""}, "live+pending", st{ownedByWriter, phaseOpen, ""}, "start"},
		{st{ownedByRequest, phaseEnding, ""}, "live", st{ownedByWriter, phaseEnding, ""}, "start"},
		{st{ownedByRequest, phaseClosed, ReasonClient}, "live", st{ownedByNobody, phaseReleased, ReasonClient}, "release"},

		{st{ownedByNobody, phaseOpen, ""}, "queued", st{ownedByWriter, phaseOpen, ""}, "start"},
		{st{ownedByRequest, phaseOpen, ""}, "queued", st{ownedByRequest, phaseOpen, ""}, ""},
		{st{ownedByWriter, phaseOpen, ""}, "queued", st{ownedByWriter, phaseOpen, ""}, ""},
		{st{ownedByNobody, phaseReleased, ReasonClient}, "queued", st{ownedByNobody, phaseReleased, ReasonClient}, ""},

		{st{ownedByWriter, phaseOpen, ""}, "drained", st{ownedByNobody, phaseOpen, ""}, ""},
		{st{ownedByWriter, phaseEnding, ""}, "drained", st{ownedByNobody, phaseReleased, ReasonShutdown}, "end+release"},
		{st{ownedByWriter, phaseClosed, ReasonWrite}, "drained", st{ownedByNobody, phaseReleased, ReasonWrite}, "release"},

		{st{ownedByNobody, phaseOpen, ""}, "end", st{ownedByWriter, phaseEnding, ""}, "start"},
		{st{ownedByRequest, phaseOpen, ""}, "end", st{ownedByRequest, phaseEnding, ""}, ""},
		{st{ownedByWriter, phaseOpen, ""}, "end", st{ownedByWriter, phaseEnding, ""}, ""},
		{st{ownedByWriter, phaseEnding, ""}, "end", st{ownedByWriter, phaseEnding, ""}, ""},
		{st{ownedByWriter, phaseClosed, ReasonSlow}, "end", st{ownedByWriter, phaseClosed, ReasonSlow}, ""},

		{st{ownedByNobody, phaseOpen, ""}, "close", st{ownedByNobody, phaseReleased, ReasonClient}, "ok+release"},
		{st{ownedByRequest, phaseOpen, ""}, "close", st{ownedByRequest, phaseClosed, ReasonClient}, "ok"},
		{st{ownedByWriter, phaseOpen, ""}, "close", st{ownedByWriter, phaseClosed, ReasonClient}, "ok"},
		{st{ownedByWriter, phaseEnding, ""}, "close", st{ownedByWriter, phaseClosed, ReasonClient}, "ok"},
		{st{ownedByWriter, phaseClosed, ReasonSlow}, "close", st{ownedByWriter, phaseClosed, ReasonSlow}, ""},
		{st{ownedByNobody, phaseReleased, ReasonSlow}, "close", st{ownedByNobody, phaseReleased, ReasonSlow}, ""},
	} {
		got := tc.from
		says := ""
		add := func(b bool, s string) {
			if b {
				if says != "" {
					says += "+"
				}
				says += s
			}
		}
		switch tc.event {
		case "live", "live+pending":
			start, release := got.live(tc.event == "live+pending")
			add(start, "start")
			add(release, "release")
		case "queued":
			add(got.queued(), "start")
		case "drained":
			end, release := got.drained()
			add(end, "end")
			add(release, "release")
		case "end":
			add(got.end(), "start")
		case "close":
			ok, release := got.close(ReasonClient)
			add(ok, "ok")
			add(release, "release")
		}
		name := fmt.Sprintf("%s %s: %s", tc.from.owner, tc.from.phase, tc.event)
		if got != tc.to || says != tc.says {
			t.Errorf("%s: got (%s, %s, %q) saying %q, want (%s, %s, %q) saying %q", name,
				got.owner, got.phase, got.reason, says, tc.to.owner, tc.to.phase, tc.to.reason, tc.says)
		}
	}
}

// TestStateOwnership: only the owner may hand the stream over.
func TestStateOwnership(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   state
		f    func(*state)
	}{
		{"live from a writer", state{owner: ownedByWriter}, func(s *state) { s.live(false) }},
		{"live twice", state{owner: ownedByNobody}, func(s *state) { s.live(false) }},
		{"drained without a writer", state{owner: ownedByNobody}, func(s *state) { s.drained() }},
		{"drained by the request goroutine", state{owner: ownedByRequest}, func(s *state) { s.drained() }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f(&tc.st)
		}()
	}
}

// TestStateReleasesOnce: whatever the order of events, a stream is released
// exactly once, and only after it left phaseOpen.
func TestStateReleasesOnce(t *testing.T) {
	events := []string{"queued", "drained", "end", "close", "live"}
	var walk func(st state, depth, released int, path string)
	walk = func(st state, depth, released int, path string) {
		if released > 1 {
			t.Fatalf("%s: released %d times", path, released)
		}
		if depth == 0 {
			return
		}
		for _, ev := range events {
			next, rel := st, 0
			switch ev {
			case "queued":
				next.queued() // a writer starts when told to; it drains later
			case "drained":
				if next.owner != ownedByWriter {
					continue
				}
				if _, r := next.drained(); r {
					rel = 1
				}
			case "end":
				next.end()
			case "close":
				if _, r := next.close(ReasonClient); r {
					rel = 1
				}
			case "live":
				if next.owner != ownedByRequest {
					continue
				}
				if _, r := next.live(false); r {
					rel = 1
				}
			}
			if rel > 0 && st.phase == phaseOpen && ev != "close" {
				t.Fatalf("%s %s: released an open stream", path, ev)
			}
			if (next.phase == phaseReleased) != (released+rel > 0) {
				t.Fatalf("%s %s: phase %s after %d releases", path, ev, next.phase, released+rel)
			}
			walk(next, depth-1, released+rel, path+" "+ev)
		}
	}
	walk(state{}, 7, 0, "new")
}
