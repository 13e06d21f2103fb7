// Package mercure speaks the Mercure protocol over HTTP in front of a
// [hub.Hub], in both of its generations on the same URL:
// draft-dunglas-mercure-07 (as the Mercure hub v0.24 implements it) and
// draft-dunglas-mercure-08 (the Mercure hub 1.0). Each request is read in
// the generation it speaks: a subscription by its parameters (topic, or
// match and match_urlpattern), a publish and the subscriptions API by its
// token (a JWT with a mercure claim, or an RFC 9068 access token).
//
//	GET  /.well-known/mercure?topic=...       subscribe, draft 07 (text/event-stream)
//	GET  /.well-known/mercure?match=...       subscribe, draft 08
//	POST /.well-known/mercure                 publish (form-encoded)
//	GET  /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]
//	                                          active subscriptions, draft 07 (JSON-LD)
//	GET  /.well-known/mercure/subscriptions[/{match_type}/{match}[/{subscriber}]]
//	                                          active subscriptions, draft 08 (JSON)
//	GET  /.well-known/oauth-protected-resource/.well-known/mercure
//	                                          protected resource metadata (draft 08, RFC 9728)
//
// and, as a Herald extension of the protocol, at [BatchPath]:
//
//	POST /.well-known/mercure/herald/batch    publish many updates, stored as
//	                                          one batch (NDJSON, see batch.go)
//
// It parses and validates requests (400 with a message saying what is
// wrong, 413 for oversized bodies), authorizes them with tokens (401, 403;
// RFC 6750 challenges in draft 08), answers CORS preflights, and hands
// authorized subscriptions to the hub. Both generations share the hub, its
// history, its ids and its limits.
package mercure
