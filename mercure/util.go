package mercure

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/herald-sse/herald"
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{herald.ErrInvalid}, args...)...)
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// newID returns a random "urn:uuid:..." (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// background is the context of the hub's own publications.
func (h *Handler) background() context.Context { return context.Background() }
