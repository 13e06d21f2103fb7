package herald_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/eventsource"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/memory"
)

// A Go program mounts the hub as an http.Handler, publishes in-process, and
// reads the stream with the eventsource client as a browser would.
func Example() {
	store := memory.New(memory.Options{})
	defer store.Close()
	h := hub.New(store, hub.Options{})
	defer h.Close(context.Background())
	handler, _ := mercure.New(mercure.Config{Hub: h})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Resume from "earliest" so that the update published below is replayed
	// whether it lands before or after the stream opens.
	req, _ := http.NewRequest("GET", srv.URL+mercure.Path+"?topic=/books/{id}&lastEventID=earliest", nil)

	h.Publish(ctx, herald.Update{Topics: []string{"/books/1"}, Type: "update", Data: `{"title":"Dune"}`})

	var client eventsource.Client
	for ev, err := range client.Events(ctx, req) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.Type, ev.Data)
		break
	}
	// Output: update {"title":"Dune"}
}
