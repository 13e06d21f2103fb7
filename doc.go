// Package herald holds the domain of the Herald hub: the [Update] that publishers
// send and subscribers receive, the [Store] contract that every history backend
// implements, and the errors shared by every layer.
//
// It imports only the standard library and [github.com/herald-sse/herald/sse].
// Adapters live in subpackages (store/..., auth, hub, mercure) and are wired
// together only in cmd/herald.
package herald
