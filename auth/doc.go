// Package auth verifies and mints the JWTs of the Mercure protocol
// (draft-dunglas-mercure-07): a publisher's token lists, in its
// mercure.publish claim, the topic selectors it may publish to; a
// subscriber's token lists, in mercure.subscribe, the selectors of the
// private updates it may receive.
//
// A [Verifier] checks signatures with an algorithm allow-list pinned by key
// type (an HMAC secret never verifies an RS256 or ES256 token and an RSA or
// EC key never verifies an HS256 one; "none" is never accepted), enforces exp
// and nbf, supports several keys for rotation, and caches verified tokens so
// that a publisher reusing one token costs a map lookup per request.
//
// Every verification error wraps [herald.ErrUnauthorized] and says why the
// token was refused. The package knows nothing of HTTP beyond
// [TokenFromRequest], which finds the token in a request.
package auth
