package gate_test

import (
	"testing"
	"time"

	"github.com/herald-sse/herald/store/internal/gate"
)

func TestCloseWaitsForAdmittedCallsAndRefusesNewOnes(t *testing.T) {
	var g gate.Gate
	if !g.Enter() {
		t.Fatal("an open gate refused a call")
	}
	closed := make(chan bool)
	go func() { closed <- g.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	for !g.Closed() { // Close has marked the gate before waiting
		time.Sleep(time.Millisecond)
	}
	if g.Enter() {
		t.Fatal("a closing gate admitted a call")
	}
	g.Leave()
	if first := <-closed; !first {
		t.Fatal("the first Close reported false")
	}
	if g.Close() {
		t.Fatal("a second Close reported true")
	}
}
