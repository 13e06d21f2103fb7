package sse_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/herald-sse/herald/sse"
)

func ExampleEncoder() {
	enc := sse.NewEncoder(os.Stdout)
	if err := enc.Comment("welcome"); err != nil {
		panic(err)
	}
	err := enc.Encode(sse.Event{ID: "42", Type: "update", Data: "line one\nline two", Retry: 3 * time.Second})
	if err != nil {
		panic(err)
	}
	err = enc.Encode(sse.Event{Type: "bad\nfield", Data: "x"})
	fmt.Println(err)
	// Output:
	// : welcome
	// id: 42
	// event: update
	// retry: 3000
	// data: line one
	// data: line two
	//
	// sse: invalid field: event must not contain CR, LF or NUL, found '\n' at byte 3
}

func ExampleDecoder() {
	stream := "\xEF\xBB\xBF: a comment\r\n" +
		"id: 7\r\n" +
		"event: greeting\r\n" +
		"data: hello\r\n" +
		"data:  world\r\n" +
		"\r\n" +
		"data: the id persists\n\n" +
		"data: unterminated, never dispatched\n"
	dec := sse.NewDecoder(strings.NewReader(stream))
	for {
		ev, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("id=%q type=%q data=%q\n", ev.ID, ev.Type, ev.Data)
	}
	// Output:
	// id="7" type="greeting" data="hello\n world"
	// id="7" type="message" data="the id persists"
}

func ExampleAppendEvent() {
	// A hub encodes each event once and shares the bytes with every subscriber.
	b, err := sse.AppendEvent(nil, sse.Event{ID: "1", Data: "{\"n\":1}"})
	if err != nil {
		panic(err)
	}
	b = sse.AppendComment(b, "heartbeat")
	fmt.Printf("%s", b)
	// Output:
	// id: 1
	// data: {"n":1}
	//
	// : heartbeat
}
