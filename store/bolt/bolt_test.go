package bolt_test

import (
	"testing"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, r herald.Retention) herald.Store {
		s, err := bolt.Open(t.TempDir(), bolt.Options{Retention: r})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
