package mercure

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/herald-sse/herald"
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{herald.ErrInvalid}, args...)...)
}

// reason is err's message without the "herald: invalid: " prefix of the
// sentinel it wraps: what a 400 answer tells the client.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), herald.ErrInvalid.Error()+": ")
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// totalLen is the sum of the lengths of ss.
func totalLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n += len(s)
	}
	return n
}
