// Backoff, token scheduling and the topic union: pure functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoff, renewDelay, union } from '../herald.js';

test('backoff doubles up to the cap, with half of it random', () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((a) => backoff(a, 1000, 30000, lo)), [500, 1000, 2000, 4000, 8000, 15000, 15000]);
  for (const a of [0, 3, 10, 60]) {
    const cap = Math.min(30000, 1000 * 2 ** a);
    assert.ok(backoff(a, 1000, 30000, hi) <= cap && backoff(a, 1000, 30000, hi) > cap * 0.99, `attempt ${a}`);
  }
  // Spread: 1000 clients cut off together do not come back in the same 10%.
  const delays = Array.from({ length: 1000 }, () => backoff(4));
  const within = delays.filter((d) => Math.abs(d - delays[0]) < 800).length;
  assert.ok(within < 300, `${within} of 1000 within 10% of each other`);
  assert.equal(backoff(1e6, 1000, 30000, lo), 15000, 'a huge attempt stays capped, not NaN');
});

// jwt builds an unsigned token with the claims (renewDelay reads, never verifies).
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims) => `${b64({ alg: 'HS256' })}.${b64(claims)}.sig`;

test('renewDelay: margin before exp, half the life when shorter, none without exp', () => {
  const now = 1_700_000_000_000;
  const s = now / 1000;
  assert.equal(renewDelay(jwt({ exp: s + 3600 }), 30000, now), 3600000 - 30000);
  assert.equal(renewDelay(jwt({ exp: s + 40 }), 30000, now), 20000, 'half of 40 s is shorter than 30 s');
  assert.equal(renewDelay(jwt({ exp: s + 4 }), 30000, now), 2000);
  assert.equal(renewDelay(jwt({ exp: s - 1 }), 30000, now), -1, 'expired');
  assert.equal(renewDelay(jwt({ sub: 'x' }), 30000, now), -1, 'no exp');
  assert.equal(renewDelay('opaque-token', 30000, now), -1);
  assert.equal(renewDelay('a.%%%.c', 30000, now), -1);
  // A browser clock 10 min behind the issuer: exp - now says 70 min, exp - iat 60.
  assert.equal(renewDelay(jwt({ iat: s + 600, exp: s + 600 + 3600 }), 30000, now), 3600000 - 30000);
  // A cached token issued 50 min ago: exp - now is shorter, and wins.
  assert.equal(renewDelay(jwt({ iat: s - 3000, exp: s + 600 }), 30000, now), 600000 - 30000);
  // Claims with non-ASCII text still parse (base64url, no padding).
  assert.equal(renewDelay(jwt({ exp: s + 100, name: 'Zoë 👋' }), 30000, now), 70000);
});

test('union: sorted, deduplicated topics of every client', () => {
  const tabs = new Map([
    ['a', ['/books/{id}', 'demo']],
    ['b', ['demo', '*']],
    ['c', []],
  ]);
  assert.deepEqual(union(tabs), ['*', '/books/{id}', 'demo']);
  assert.deepEqual(union(new Map()), []);
  // The same topics in another order are the same connection.
  assert.equal(union(new Map([['x', ['b', 'a']]])).join('\n'), union(new Map([['y', ['a']], ['z', ['b']]])).join('\n'));
});
