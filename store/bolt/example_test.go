package bolt_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
)

func Example() {
	dir, err := os.MkdirTemp("", "herald-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := bolt.Open(dir, bolt.Options{Retention: herald.Retention{MaxCount: 10_000}})
	if err != nil {
		log.Fatal(err)
	}
	first, _ := s.Append(ctx, herald.Update{Topics: []string{"https://example.com/books/1"}, Data: "v1"})
	s.Append(ctx, herald.Update{Topics: []string{"https://example.com/books/1"}, Data: "v2"})
	s.Close() // a restart: the history and its instance id survive

	s, err = bolt.Open(dir, bolt.Options{Retention: herald.Retention{MaxCount: 10_000}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	err = s.Replay(ctx, first.ID, func(u herald.Update) error {
		fmt.Println(u.Seq, u.Data, u.ID == herald.FormatID(s.Instance(), u.Seq))
		return nil
	})
	fmt.Println(err)
	// Output:
	// 2 v2 true
	// <nil>
}
