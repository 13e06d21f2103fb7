// Package durable compares the durable publish rate of Herald's embedded
// store with Mercure v0.24.2's Bolt transport (embedded as a library), below
// HTTP: the same update appended by 1, 16 and 64 concurrent publishers, each
// waiting until its update is on disk. It holds only benchmarks:
//
//	cd bench && go test -run='^$' -bench=. -count=5 ./durable
//
// End to end over HTTP, the same comparison is scenario E of cmd/compare.
package durable
