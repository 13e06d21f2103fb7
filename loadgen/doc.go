// Package loadgen is a load generator for Mercure-protocol hubs (Herald's,
// Mercure's, or anything that serves the same two endpoints): it opens
// subscribers over real sockets, publishes with HTTP POSTs over keep-alive
// connections, and measures deliveries per second, publications per second,
// publish→receive latency, connection rate and errors, lost and out-of-order
// events, and the hub's CPU time and memory. It is the engine of
// `herald bench` and of the comparison in the bench module.
//
// Every event's data carries its publisher, a per-publisher-and-topic
// sequence number and the time it was sent (see the payload format in
// payload.go): each subscriber checks that it receives every event of its
// topic once and in order, and measures latency on the same clock (the load
// generator and its workers run on one machine).
//
// Subscribers read with a purpose-built HTTP/1.1 event-stream reader that
// reads whatever the socket holds in one call and parses only the id and
// data fields, so that the load generator costs little next to the hub it
// measures. Beyond one process's open-file limit, subscribers are spread
// over worker processes (Config.Workers), each connecting from its own
// loopback source address.
package loadgen
