package hub_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/store/memory"
)

// ExampleHub_PublishBatch publishes one update to each of three users'
// topics as one batch: stored together (one group commit on a durable
// store), with ids in order. A batch with an update at fault is refused
// whole, and the error names that update.
func ExampleHub_PublishBatch() {
	store := memory.New(memory.Options{Instance: "example"})
	defer store.Close()
	h := hub.New(store, hub.Options{})
	defer h.Close(context.Background())

	var batch []herald.Update
	for _, user := range []string{"alice", "bob", "carol"} {
		batch = append(batch, herald.Update{
			Topics:  []string{"https://example.com/users/" + user},
			Private: true,
			Data:    `{"unread":1}`,
		})
	}
	stored, err := h.PublishBatch(context.Background(), batch)
	if err != nil {
		panic(err)
	}
	for _, u := range stored {
		fmt.Println(u.ID, u.Topics[0])
	}

	batch[1].ID = "#not-an-id"
	_, err = h.PublishBatch(context.Background(), batch)
	if be, ok := errors.AsType[*herald.BatchError](err); ok {
		fmt.Println("refused: update", be.Index, errors.Is(err, herald.ErrInvalid))
	}
	// Output:
	// urn:herald:example:1 https://example.com/users/alice
	// urn:herald:example:2 https://example.com/users/bob
	// urn:herald:example:3 https://example.com/users/carol
	// refused: update 1 true
}
