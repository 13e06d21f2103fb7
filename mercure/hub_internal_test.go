package mercure

import (
	"context"
	"testing"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/store/memory"
)

// internalHub returns a hub on a memory store for the package's internal
// tests, closed when the test ends.
func internalHub(t *testing.T) *hub.Hub {
	t.Helper()
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	hb := hub.New(st, hub.Options{})
	t.Cleanup(func() { hb.Close(context.Background()) })
	return hb
}
