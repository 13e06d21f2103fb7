package eventsource

import (
	"net/http"
	"time"
)

// State is the state of a stream, as reported to [Client.OnStateChange].
// It refines the standard's readyState (CONNECTING, OPEN, CLOSED) by telling
// apart the wait before a reconnection.
type State int

// The states of a stream, in the order a stream goes through them.
const (
	// StateConnecting: a request is being sent, or its response awaited.
	StateConnecting State = iota + 1
	// StateOpen: the server answered 200 with text/event-stream; events
	// flow. StateChange.Response holds the response.
	StateOpen
	// StateReconnecting: the previous attempt failed, the stream ended or
	// [Stream.Restart] ended it (StateChange.Err says why); the client
	// waits StateChange.Delay.
	StateReconnecting
	// StateClosed: the sequence is over. StateChange.Err holds the error
	// the sequence ends with, or nil when the caller stopped iterating.
	StateClosed
)

// String returns the state's name in lower case, e.g. "reconnecting".
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// StateChange describes one change of a stream's state.
type StateChange struct {
	// State is the new state.
	State State
	// Attempt numbers the connection attempts of one sequence from 1: the
	// attempt this change is about. For StateReconnecting it is the attempt
	// about to be made after Delay; for StateClosed, the last one made.
	Attempt int
	// Failures counts the failed attempts in a row: for StateReconnecting
	// and StateClosed the one just ended included, for StateOpen those
	// before this connection.
	Failures int
	// Delay is how long the client waits before the next attempt
	// (StateReconnecting only).
	Delay time.Duration
	// Err says why the previous connection ended (StateReconnecting:
	// [ErrStreamEnded], an error wrapping [ErrReadTimeout], a network error,
	// a [*StatusError] that [Reconnect.RetryTransient] retries, or
	// [ErrRestarted]) or why the sequence ends (StateClosed).
	Err error
	// Response is the response that opened the stream (StateOpen only): its
	// status and headers. Its Body belongs to the client: do not read or
	// close it.
	Response *http.Response
}
