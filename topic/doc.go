// Package topic implements Mercure topic selectors (draft-dunglas-mercure-07,
// as the Mercure hub v0.24 applies them): the strings a subscriber passes in
// ?topic= and a JWT lists in its mercure.publish and mercure.subscribe claims.
//
// A selector is one of:
//
//   - "*", which matches every topic;
//   - an exact selector, a string without '{', which matches only the topic
//     byte-equal to it;
//   - a template selector, a string with '{' that parses as an RFC 6570 URI
//     template. It matches the topic byte-equal to it and every topic the
//     template can expand to (for example "https://example.com/books/{id}"
//     matches "https://example.com/books/1").
//
// A string with '{' that is not a valid URI template is rejected with an
// error wrapping [herald.ErrInvalid] that says why. Mercure instead treats such
// a string as an exact selector, silently: a typo in a template then matches
// nothing and nobody is told. Herald prefers a clear 400. A string without '{'
// is never parsed as a template, so any valid topic (including one with
// spaces or other characters URI templates forbid) is a valid exact selector.
//
// Matching a template costs a regular-expression run; [Selector.Match] caches
// its results per selector, and [Cache] caches compiled selectors so that the
// same selector string always yields the same *[Selector] while it is cached.
// Exact selectors expose their topic through [Selector.Literal] so that a hub
// can index them in a map instead of matching them one by one.
//
// Draft-08 matchers ([Matcher]: exact, or a WHATWG URL Pattern) are compiled
// by [CompileMatcher] and a [MatcherCache]; [Matcher.Selector] gives one as a
// Selector, so that a hub selects the topics of subscribers of both
// generations through one type ([Selector.Key] tells them apart).
package topic
