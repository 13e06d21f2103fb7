package herald

import "fmt"

// MaxBatchLen is the most updates [Store.AppendBatch] takes in one batch, in
// every store: JetStream's default limit on an atomic batch. A longer batch
// is refused with an error wrapping [ErrTooLarge].
const MaxBatchLen = 1000

// BatchError reports which update of a batch made AppendBatch refuse the
// whole batch, and why (Err wraps ErrInvalid, ErrConflict or ErrTooLarge).
// Find it with errors.As; errors.Is sees through it.
type BatchError struct {
	Index int // the update's index in the batch, from 0
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("update %d of the batch: %v", e.Index, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// ValidateBatch reports why us cannot be appended as one batch, before any
// store is asked: more than MaxBatchLen updates ([ErrTooLarge]), an invalid
// update (a *BatchError wrapping [ErrInvalid], see [Update.Validate]), or an
// ID that an earlier update of the batch has (a *BatchError wrapping
// [ErrConflict]). An empty batch is valid (it stores nothing).
func ValidateBatch(us []Update) error {
	if len(us) > MaxBatchLen {
		return fmt.Errorf("%w: a batch of %d updates, the limit is %d", ErrTooLarge, len(us), MaxBatchLen)
	}
	var first map[string]int // id -> index of its first use
	for i := range us {
		if err := us[i].Validate(); err != nil {
			return &BatchError{Index: i, Err: err}
		}
		id := us[i].ID
		if id == "" {
			continue
		}
		if first == nil {
			first = make(map[string]int)
		}
		if j, dup := first[id]; dup {
			return &BatchError{Index: i, Err: fmt.Errorf("%w: id %q is the id of update %d of the batch", ErrConflict, id, j)}
		}
		first[id] = i
	}
	return nil
}
