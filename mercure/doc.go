// Package mercure speaks the Mercure protocol (draft-dunglas-mercure-07, as
// the Mercure hub v0.24 implements it) over HTTP in front of a [hub.Hub]:
//
//	GET  /.well-known/mercure?topic=...       subscribe (text/event-stream)
//	POST /.well-known/mercure                 publish (form-encoded)
//	GET  /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]
//	                                          active subscriptions (JSON-LD)
//
// and, as a Herald extension of the protocol, at [BatchPath]:
//
//	POST /.well-known/mercure/herald/batch    publish many updates, stored as
//	                                          one batch (NDJSON, see batch.go)
//
// It parses and validates requests (400 with a message saying what is
// wrong, 413 for oversized bodies), authorizes them with JWTs (401, 403),
// answers CORS preflights, and hands authorized subscriptions to the hub.
package mercure
