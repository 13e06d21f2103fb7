package hub

import (
	"context"

	"github.com/herald-sse/herald"
)

// PublishBatch validates us as one batch and appends it to the store with
// one [herald.Store.AppendBatch]: either every update is stored, with
// consecutive Seqs and no other update between them, or none is. It returns
// the updates as stored (with their IDs), in order; subscribers receive
// them in that order, with nothing published by anyone else between two of
// them.
//
// A batch with one update at fault is refused whole, storing nothing, with
// a *[herald.BatchError] that names it (its Index) and wraps the reason:
// [herald.ErrInvalid] (see [herald.Update.Validate]) or [herald.ErrConflict]
// (an ID another update of the batch has, or an update in history holds).
// More than [herald.MaxBatchLen] updates are refused with
// [herald.ErrTooLarge], and a hub that is shutting down refuses every batch
// with [herald.ErrClosed]. An empty batch stores nothing and returns nil.
// Other errors are the store's, for the batch as a whole (see
// [herald.Store.AppendBatch]).
func (h *Hub) PublishBatch(ctx context.Context, us []herald.Update) ([]herald.Update, error) {
	if h.closing.Load() {
		return nil, herald.ErrClosed
	}
	if err := herald.ValidateBatch(us); err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, nil
	}
	stored, err := h.store.AppendBatch(ctx, us)
	if err != nil {
		return nil, err
	}
	h.metrics.Published(len(stored))
	return stored, nil
}
