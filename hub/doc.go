// Package hub is Herald's engine: it keeps the live subscriptions, matches each
// update against them, and streams it to every matching subscriber in the
// store's global order, replaying history first when a subscriber resumes.
//
// Design, driven by the benchmark goals (memory per idle subscriber, CPU per
// delivery):
//   - Every update is encoded to SSE bytes once; the bytes are shared by all
//     subscribers that receive it.
//   - Publishing never blocks on a subscriber. Each subscriber has a bounded
//     queue of pending events; one that falls further behind than
//     [Options.QueueLimit] is disconnected (it reconnects with Last-Event-ID
//     and history fills the gap) and counted in metrics.
//   - An idle HTTP/1.x subscriber costs no handler goroutine and no net/http
//     buffers: once the stream's headers are sent, the connection is taken
//     over (hijacked) and a writer goroutine runs only while the subscriber
//     has something queued; it writes everything queued in one vectored
//     write. A single hub-wide sweeper sends heartbeats.
//   - HTTP/2 streams (and handlers wrapped by middleware that cannot hijack)
//     keep the request's goroutine, with the same queue and writer.
//   - The hub delivers what the store's Watch yields, so a clustered store's
//     appends from other nodes reach local subscribers the same way as local
//     ones, in one global order.
package hub
