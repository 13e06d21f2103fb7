package herald

import "errors"

// Errors shared by every layer. Adapters wrap them (once) with context; the
// HTTP layer maps them to status codes with errors.Is.
var (
	// ErrInvalid reports input that can never be accepted (HTTP 400).
	ErrInvalid = errors.New("herald: invalid")
	// ErrNotHeld reports that a store does not hold the requested event id:
	// it was never stored there, was removed by retention, or comes from
	// another store instance. The subscriber has a gap in its history.
	ErrNotHeld = errors.New("herald: event id not held in history")
	// ErrUnavailable reports that a store's engine cannot be reached now; the
	// operation may succeed later (HTTP 503).
	ErrUnavailable = errors.New("herald: store unavailable")
	// ErrConflict reports an update whose ID is the ID of an update the
	// store still holds: ids name one held update each, so that resuming
	// from one is exact (HTTP 409).
	ErrConflict = errors.New("herald: conflict")
	// ErrClosed reports an operation on a closed store or hub.
	ErrClosed = errors.New("herald: closed")
	// ErrUnauthorized reports a missing or invalid credential (HTTP 401).
	ErrUnauthorized = errors.New("herald: unauthorized")
	// ErrForbidden reports a valid credential that does not allow the
	// operation (HTTP 403).
	ErrForbidden = errors.New("herald: forbidden")
	// ErrTooLarge reports input over a configured size limit (HTTP 413).
	ErrTooLarge = errors.New("herald: too large")
	// ErrOverloaded reports that the hub holds as much of a resource as it
	// is allowed to (subscribers, replays, queued bytes): the request may
	// succeed later (HTTP 503 with Retry-After).
	ErrOverloaded = errors.New("herald: overloaded")
	// ErrTooManyRequests reports that one client holds or asks for more than
	// its share (HTTP 429 with Retry-After).
	ErrTooManyRequests = errors.New("herald: too many requests")
)
