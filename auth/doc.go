// Package auth verifies and mints the tokens of both generations of the
// Mercure protocol, and finds them in requests.
//
// Draft 7 (draft-dunglas-mercure-07): a publisher's token lists, in its
// mercure.publish claim, the topic selectors it may publish to; a
// subscriber's token lists, in mercure.subscribe, the selectors of the
// private updates it may receive. A [Verifier] checks them; [Sign] mints
// them; [TokenFromRequest] finds them (header, query, cookie).
//
// Draft 8 (draft-dunglas-mercure-08): tokens are RFC 9068 JWT access tokens
// (typ at+jwt) whose RFC 9396 authorization_details grant the publish and
// subscribe actions on topic matchers (exact or URL Pattern). An
// [AccessVerifier] checks them against trusted issuers, each with its own
// keys, and the hub's resource identifier (aud), given per verification;
// [SignAccess] mints them; [AccessTokenFromRequest] finds them (header,
// then cookie, never the query string); [BearerError] and [Challenge] turn
// refusals into RFC 6750 answers.
//
// Both verifiers return [Claims], whose CanPublish, CanReceive and
// PayloadFor apply the rules of the token's generation, so that a hub
// authorizes both the same way.
//
// Keys are configured (HMAC secrets, PEM keys) or fetched from a JWK Set
// ([KeySet]: HTTPS, cached, refreshed on a schedule and, rate-limited, on an
// unknown kid). Signatures are checked with an algorithm allow-list pinned
// by key type (an HMAC secret never verifies an RS256 or ES256 token and an
// RSA or EC key never verifies an HS256 one; "none" is never accepted) and,
// for a JWK, by its alg. exp and nbf are enforced, several keys allow
// rotation, and verified tokens are cached so that a publisher reusing one
// token costs a map lookup per request.
//
// Every verification error wraps [herald.ErrUnauthorized] and says why the
// token was refused.
package auth
