package topic_test

import (
	"fmt"

	"github.com/herald-sse/herald/topic"
)

func ExampleSelector_Match() {
	books := topic.MustCompile("https://example.com/books/{id}")
	fmt.Println(books.Match("https://example.com/books/1"))
	fmt.Println(books.Match("https://example.com/books/1/reviews"))

	exact := topic.MustCompile("https://example.com/books/1")
	lit, ok := exact.Literal()
	fmt.Println(lit, ok)

	_, err := topic.Compile("https://example.com/books/{id")
	fmt.Println(err)
	// Output:
	// true
	// false
	// https://example.com/books/1 true
	// herald: invalid: topic selector "https://example.com/books/{id" is not a valid URI template (RFC 6570): incomplete expression at byte 29
}

func ExampleCache() {
	c := topic.NewCache(1000)
	a, _ := c.Compile("https://example.com/books/{id}")
	b, _ := c.Compile("https://example.com/books/{id}")
	fmt.Println(a == b)
	// Output: true
}

func ExampleCompileURLPattern() {
	hub := "https://hub.example.com/.well-known/mercure"
	p, err := topic.CompileURLPattern("https://example.com/books/:id", hub)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Match("https://example.com/books/1"), p.Match("https://example.com/books/1/reviews"))
	fmt.Println(p.Prefix(), p.Exact())

	// Relative patterns and topics resolve against the hub's URL.
	events, _ := topic.CompileURLPattern("/.well-known/mercure/subscriptions/*", hub)
	fmt.Println(events.Match("/.well-known/mercure/subscriptions/exact/a/b"))
	// Output:
	// true false
	// https://example.com/books false
	// true
}
