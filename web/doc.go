// Package web is Herald's demo page: the classic Server-Sent Events demo,
// served by the hub itself and embedded in the binary (no CDN, no build
// step), plus a debugging panel for one's own topics and a live chart of the
// hub. The page runs on herald.js, the browser client kept in herald-js/ (an
// npm package) and served at /herald.js: all the tabs of the page in one
// browser share one connection.
//
// A [Demo] is an http.Handler that serves, relative to its root:
//
//	GET  /                 the page (index.html; /assets/app.js, /assets/style.css)
//	GET  /demo/stream      the demo's event stream (herald.js, or any EventSource)
//	POST /demo/send        publish a message to the demo topic (JSON or form)
//	GET  /demo/stats       the hub's live figures, as JSON
//	GET  /herald.js        herald.js, the browser client (herald-js/), for any origin
//
// Everything else on the page speaks the Mercure protocol to the hub's own
// endpoint (/.well-known/mercure), with the tokens the visitor types in.
//
// # The demo stream and its greeting
//
// GET /demo/stream is a Mercure subscription, served by [hub.Hub.ServeStream],
// to the demo topic plus one topic of its own, <topic>/welcome/<random>. As
// soon as the hub has registered the stream (the Subscription's OnOpen hook),
// the demo publishes a "welcome" event to that topic as a private update that
// only this stream may receive. Because the greeting goes through the store
// like any update, it arrives in order after the history the client resumes
// from (Last-Event-ID, or the lastEventID query parameter), exactly once, and
// nobody else sees it: anonymous Mercure subscribers never receive private
// updates, and the stream's own authorization only covers its welcome topic.
// With liveEvent=1 (herald.js asks for it) the stream sends a herald-live
// event once that history, greeting included, has been sent; the page marks
// what came before it as replayed.
//
// While at least one demo stream is open, [Demo.Run] publishes a "tick" event
// to the demo topic every [Config.Interval]. A message sent with
// POST /demo/send is published to the demo topic as a "message" event, data
// exactly as sent, followed by an "announce" event that tells everyone
// someone sent it.
//
// # Keeping the hub closed to the world
//
// The send path cannot publish anywhere but the demo topic, refuses messages
// over [Config.MaxMessageBytes] (413), is rate-limited per client address and
// globally (429 with Retry-After), and answers 403 when
// [Config.AllowPublish] is false. Greetings are rate-limited the same way, so
// opening connections in a loop cannot flood the store. Everything else
// (publishing to other topics, private updates) needs a real publisher token
// and goes through the Mercure endpoint.
package web
