// Package parser compares Herald's sse Decoder and Encoder with
// github.com/tmaxmax/go-sse's on the same events. It holds only benchmarks:
//
//	cd bench && go test -run='^$' -bench=. -count=6 ./parser
package parser
