package herald

import (
	"context"
	"time"
)

// EarliestID is the reserved Last-Event-ID value that asks for the whole
// history a store holds.
const EarliestID = "earliest"

// Store is a hub's history: one append-only log of updates in a single global
// order, shared by every node that uses the same backend.
//
// Guarantees every implementation gives (and store/storetest checks):
//   - Append assigns Seq (strictly increasing, never reused by this store
//     instance), Time, and, when the update has no ID, an ID made by
//     [FormatID] from the store's instance id and Seq. When Append returns
//     nil the update is as durable as the backend promises (fsync'd for the
//     embedded store) and it will be passed to Watch exactly once.
//   - An ID names at most one held update. Append refuses, with an error
//     wrapping [ErrConflict] and storing nothing, an update whose ID is the ID
//     of an update still held; once retention has removed that update, the
//     ID may be used again. Of concurrent Appends of one ID, from this process
//     or any other sharing the backend, exactly one succeeds.
//   - Every held update also has a position, FormatID(instance, Seq),
//     whatever its own ID. Last returns positions, and Replay and Lookup
//     accept them, so that a caller can name an update (in a response header,
//     say) without revealing an ID its publisher chose.
//   - AppendBatch stores all of a batch or none of it, with consecutive Seqs:
//     a crash never leaves half of one.
//   - Updates are passed to Watch, and returned by Replay, in Seq order.
//   - Replay(after) and Lookup(id) find their id in O(log n) (an index, never
//     a scan of the log) and answer [ErrNotHeld] when it is not held
//     (unknown, removed by retention, or minted by another store instance),
//     so that the hub can tell the subscriber it has a gap.
//   - A zero field of [Retention] means no bound of that kind: a store keeps
//     no hidden default.
//   - All methods are safe for concurrent use. After Close, Append, Replay,
//     Lookup and Last return [ErrClosed] and Watch returns.
type Store interface {
	// Append stores u and returns it as stored (with Seq, Time and ID set).
	// u must be valid (see [Update.Validate]); u.Seq and u.Time are ignored.
	// Errors: ErrConflict (u.ID is held; nothing was stored), ErrClosed,
	// ErrUnavailable (backend down; nothing was stored), ErrInvalid, or
	// ctx's error (the update may or may not have been stored).
	Append(ctx context.Context, u Update) (Update, error)

	// AppendBatch appends us, in order, as one unit: either every update is
	// stored, with consecutive Seqs and no other update between them, or
	// none is. It returns them as stored (Seq, Time and ID set), in order;
	// Watch delivers them in that order with nothing between them (possibly
	// over more than one call of its fn). What Append refuses for
	// one update, AppendBatch refuses for the whole batch, storing nothing,
	// with a *BatchError that names the first update at fault: invalid, too
	// large, or with an ID held (in history, or by an earlier update of the
	// batch: ErrConflict). More than [MaxBatchLen] updates are refused with
	// ErrTooLarge. An empty batch stores nothing and returns nil. The other
	// errors are Append's, for the batch as a whole (after ctx's error, all
	// of it or none of it may have been stored).
	AppendBatch(ctx context.Context, us []Update) ([]Update, error)

	// Replay calls fn, in order, for every held update that follows the one
	// after names (its ID or its position), up to the newest update held
	// when Replay started. after == EarliestID replays everything held
	// (updates that retention removes while Replay runs are skipped). For
	// any other after, if retention removes updates Replay has not sent yet,
	// it returns ErrNotHeld part-way, after fn was called: the subscriber has
	// a gap. Replay stops and returns fn's error if fn fails, and ctx's error
	// if ctx is done.
	Replay(ctx context.Context, after string, fn func(Update) error) error

	// Lookup returns the held update that id names: its ID (chosen by its
	// publisher or generated) or its position. It returns an error wrapping
	// ErrNotHeld when id names no held update (EarliestID names none).
	Lookup(ctx context.Context, id string) (Update, error)

	// Watch calls fn with every update appended from now on, by this process
	// or any other process sharing the backend, in Seq order, with no
	// duplicates, in batches, from a single goroutine. Its first call to fn,
	// made as soon as the watcher is registered, has an empty batch: every
	// update appended after that first call returns is delivered, which lets a
	// caller that runs Watch in a goroutine know when it is in place. It blocks
	// until ctx is done or the store is closed, and returns nil then. A store
	// may be watched by several callers; each sees every update. fn must not
	// block for long: it delays every watcher.
	Watch(ctx context.Context, fn func([]Update)) error

	// Last returns the position (FormatID(instance, Seq), never an ID a
	// publisher chose) and the Seq of the newest update held, or "" and 0
	// when the store is empty. The hub uses the Seq to line a new stream up
	// with the live feed: Watch may lag behind what Last and Replay already
	// see.
	Last(ctx context.Context) (position string, seq uint64, err error)

	// Close releases the store. It waits for Appends in flight.
	Close() error
}

// Retention bounds how much history a store keeps. A zero field means no
// bound of that kind (the zero Retention keeps everything). Stores enforce it in the background: it never stalls
// Append, and it may keep slightly more than asked between two sweeps.
type Retention struct {
	// MaxCount is the largest number of updates kept.
	MaxCount int
	// MaxAge is the longest time an update is kept.
	MaxAge time.Duration
	// MaxBytes bounds the size of the kept updates (their encoded size as the
	// store measures it).
	MaxBytes int64
}

// HealthChecker is implemented by stores whose backend can become
// unreachable. The hub's /healthz reports not ready while Healthy fails.
type HealthChecker interface {
	Healthy(ctx context.Context) error
}
