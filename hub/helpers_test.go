package hub_test

import (
	"log/slog"

	"github.com/herald-sse/herald"
)

// The end-to-end helpers shared with the mercure tests are in
// internal/hubtest; these are the hub tests' own.

// discard is a logger that drops everything.
var discard = slog.New(slog.DiscardHandler)

// update is an update to topic with data.
func update(topic, data string) herald.Update {
	return herald.Update{Topics: []string{topic}, Data: data}
}
