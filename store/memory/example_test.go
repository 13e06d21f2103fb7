package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/memory"
)

func Example() {
	ctx := context.Background()
	s := memory.New(memory.Options{Retention: herald.Retention{MaxCount: 2}, Instance: "demo"})
	defer s.Close()
	for _, d := range []string{"a", "b", "c"} {
		u, _ := s.Append(ctx, herald.Update{Topics: []string{"t"}, Data: d})
		fmt.Println(u.ID)
	}
	// "urn:herald:demo:1" was trimmed: the subscriber is told it has a gap.
	err := s.Replay(ctx, "urn:herald:demo:1", func(herald.Update) error { return nil })
	fmt.Println(errors.Is(err, herald.ErrNotHeld))
	s.Replay(ctx, herald.EarliestID, func(u herald.Update) error {
		fmt.Println("replayed", u.Data)
		return nil
	})
	// Output:
	// urn:herald:demo:1
	// urn:herald:demo:2
	// urn:herald:demo:3
	// true
	// replayed b
	// replayed c
}
