package herald_test

import (
	"errors"
	"testing"

	"github.com/herald-sse/herald"
)

func TestValidateBatch(t *testing.T) {
	ok := herald.Update{Topics: []string{"t"}}
	withID := func(id string) herald.Update { u := ok; u.ID = id; return u }
	tests := []struct {
		name  string
		us    []herald.Update
		want  error
		index int // -1: no BatchError
	}{
		{"empty", nil, nil, -1},
		{"valid", []herald.Update{ok, withID("a"), ok, withID("b")}, nil, -1},
		{"invalid", []herald.Update{ok, ok, {}}, herald.ErrInvalid, 2},
		{"repeated id", []herald.Update{withID("a"), ok, withID("b"), withID("a")}, herald.ErrConflict, 3},
		{"too long", make([]herald.Update, herald.MaxBatchLen+1), herald.ErrTooLarge, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := herald.ValidateBatch(tc.us)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("ValidateBatch = %v, want %v", err, tc.want)
			}
			var be *herald.BatchError
			if got := errors.As(err, &be); got != (tc.index >= 0) || got && be.Index != tc.index {
				t.Fatalf("ValidateBatch = %v; want a BatchError at index %d", err, tc.index)
			}
		})
	}
	max := make([]herald.Update, herald.MaxBatchLen)
	for i := range max {
		max[i] = ok
	}
	if err := herald.ValidateBatch(max); err != nil {
		t.Fatalf("a batch of MaxBatchLen updates: %v", err)
	}
}
