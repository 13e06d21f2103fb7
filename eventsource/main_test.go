package eventsource_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine (a connection's, a
// timer's, a hook's) is still running once they are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
