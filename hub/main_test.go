package hub_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: every
// stream must end once its test cancels it, and every hub must stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
