package mercure

import (
	"errors"

	"github.com/herald-sse/herald"
)

// ParseBatchLine is what the batch endpoint reads of one line of a batch
// body (which it overwrites): the update, or why the line is refused, and
// whether that is because the line is not JSON at all.
func ParseBatchLine(line []byte, maxTopics int) (u herald.Update, syntax bool, err error) {
	var f lineFields
	if err := parseLine(line, maxTopics, &f); err != nil {
		_, syntax := errors.AsType[*syntaxError](err)
		return herald.Update{}, syntax, err
	}
	return f.update(line), false, nil
}
