// The client against a real HTTP server (test/fakehub.js), one connection
// per client (no Web Locks in Node): delivery, reconnection, errors, tokens
// and topic changes.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../herald.js';
import { startHub, until } from './fakehub.js';

const cleanup = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()();
});

async function setup(opts = {}) {
  const hub = await startHub();
  const states = [];
  const errors = [];
  const client = createClient({
    hub: hub.url,
    initialDelay: 20,
    maxDelay: 200,
    onState: (s, info) => states.push({ s, ...info }),
    onError: (e) => errors.push(e),
    ...opts,
  });
  cleanup.push(() => hub.close(), () => client.close());
  return { hub, client, states, errors };
}

// ids returns the ids of events, and fails on a duplicate.
function checkExactlyOnce(got, want) {
  assert.deepEqual(got.map((e) => e.id), want.map((u) => u.id));
}

test('one connection, events by type, JSON, live and replayed', async () => {
  const { hub, client, states } = await setup();
  const got = [];
  const any = [];
  client.subscribe(['/books/{id}', 'demo'], {
    message: (e) => got.push(e),
    'book.updated': (e) => got.push({ ...e, parsed: e.json() }),
    '*': (e) => any.push(e.type),
  });
  await until('the connection', () => client.state === 'open');
  assert.equal(hub.requests.length, 1);
  const q = hub.requests[0].url.searchParams;
  assert.deepEqual(q.getAll('topic'), ['/books/{id}', 'demo']);
  assert.equal(q.get('gapEvent'), '1');
  assert.equal(q.get('liveEvent'), '1');
  assert.equal(hub.requests[0].headers['last-event-id'], undefined, 'a fresh connection does not resume');
  hub.publish('demo', 'hello\nworld');
  hub.publish('demo', '{"title":"Dune"}', 'book.updated');
  hub.publish('demo', 'x', 'other');
  await until('three events', () => got.length === 2 && any.length === 1);
  assert.equal(got[0].data, 'hello\nworld');
  assert.equal(got[0].replayed, false);
  assert.deepEqual(got[1].parsed, { title: 'Dune' });
  assert.deepEqual(any, ['other']);
  assert.deepEqual(states.map((s) => s.s).slice(0, 2), ['connecting', 'open']);
});

test('reconnects after 502, a dropped connection and a stream the hub ended, resuming with Last-Event-ID: 0 lost, 0 doubled', async () => {
  const { hub, client, states, errors } = await setup();
  const got = [];
  client.subscribe('t', (e) => got.push(e));
  await until('open', () => client.state === 'open');
  const want = [hub.publish('t', '1')];
  await until('event 1', () => got.length === 1);

  hub.failNext.push(502, 503, 'drop');
  hub.cut(); // the hub restarts; the proxy answers 502, then 503, then drops
  want.push(hub.publish('t', '2'), hub.publish('t', '3'));
  await until('the events published while away', () => got.length === 3);
  want.push(hub.publish('t', '4'));
  await until('a live event', () => got.length === 4);
  checkExactlyOnce(got, want);
  assert.deepEqual(got.map((e) => e.replayed), [false, true, true, false]);
  // Every reconnection resumed from the last event id.
  const resumed = hub.requests.slice(1).map((r) => r.headers['last-event-id']);
  assert.deepEqual(resumed, Array(resumed.length).fill(want[0].id));
  // The cut stream and the dropped connection are network errors (0).
  assert.deepEqual(errors.map((e) => e.status), [0, 502, 503, 0]);
  assert.equal(errors[1].message, 'failure 502');
  // Once the stream dropped, the state stays reconnecting until it is open.
  const afterDrop = states.slice(states.findIndex((s) => s.s === 'reconnecting')).map((s) => s.s);
  assert.deepEqual([...new Set(afterDrop)], ['reconnecting', 'open'], `states after the drop: ${afterDrop}`);
  const retrying = states.filter((s) => s.s === 'reconnecting');
  assert.ok(retrying.length >= 4 && retrying.every((s) => s.retryIn > 0));
  assert.equal(retrying[1].status, 502);
  assert.ok(states.filter((s) => s.s === 'open').length === 2, 'one reconnection succeeded');
});

test('a stream the hub ends is resumed after its retry; the state stays reconnecting until open', async () => {
  const { hub, client, states, errors } = await setup();
  const got = [];
  client.subscribe('t', (e) => got.push(e));
  await until('open', () => client.state === 'open');
  const want = [hub.publish('t', '1')];
  await until('event 1', () => got.length === 1);
  hub.failNext.push(502);
  hub.end();
  await until('the 502', () => errors.length === 1);
  want.push(hub.publish('t', '2'));
  await until('event 2', () => got.length === 2);
  checkExactlyOnce(got, want);
  const afterEnd = states.slice(states.findIndex((s) => s.s === 'reconnecting')).map((s) => s.s);
  assert.deepEqual(afterEnd, ['reconnecting', 'reconnecting', 'open']);
  assert.equal(states.find((s) => s.s === 'reconnecting').retryIn, 50, "the hub's retry");
});

test('a stream silent for idleTimeout is dropped and resumed: 0 lost', async () => {
  const { hub, client, errors } = await setup({ idleTimeout: 300 });
  const got = [];
  client.subscribe('t', (e) => got.push(e));
  await until('open', () => client.state === 'open');
  hub.silent = true; // what is published no longer reaches the client
  const want = [hub.publish('t', 'lost in a dead connection?')];
  hub.silent = false;
  await until('the stall to be noticed', () => errors.length === 1);
  assert.deepEqual([errors[0].status, errors[0].message], [0, 'no data for 300 ms']);
  await until('the event, from history', () => got.length === 1);
  checkExactlyOnce(got, want);
  assert.equal(hub.requests.length, 2);
});

test('Retry-After is honoured, within maxDelay', async () => {
  const { hub, client, states } = await setup({ maxDelay: 1500 });
  client.subscribe('t');
  await until('open', () => client.state === 'open');
  hub.retryAfter = '1';
  hub.failNext.push(503);
  hub.cut();
  await until('the 503', () => states.some((s) => s.status === 503));
  assert.ok(states.find((s) => s.status === 503).retryIn >= 1000);
  await until('open again', () => client.state === 'open', 3000);
});

test('401: one fresh token, then it stops and says why; no token: it stops at once', async () => {
  let calls = 0;
  const { hub, client, states, errors } = await setup({ getToken: () => `token-${++calls}` });
  hub.tokens = new Set(['never']);
  client.subscribe('t');
  await until('failed', () => client.state === 'failed');
  assert.equal(calls, 2, 'getToken was asked once more after the 401');
  assert.equal(hub.requests.length, 2);
  assert.deepEqual(hub.requests.map((r) => r.headers.authorization), ['Bearer token-1', 'Bearer token-2']);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].status, 401);
  assert.equal(errors[0].message, 'invalid subscriber token: expired');
  assert.deepEqual(states.at(-1), { s: 'failed', status: 401, message: 'invalid subscriber token: expired' });
  await new Promise((r) => setTimeout(r, 300)); // several backoff periods: nothing more
  assert.equal(hub.requests.length, 2);

  const other = await setup();
  other.hub.failNext.push(403);
  other.client.subscribe('t');
  await until('failed', () => other.client.state === 'failed');
  assert.equal(other.hub.requests.length, 1);
});

// jwt returns an unsigned token expiring in s seconds (the fake hub compares
// tokens, the client only reads exp).
let serial = 0;
const jwt = (s) => {
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none' })}.${b({ exp: Date.now() / 1000 + s, n: ++serial })}.x`;
};

for (const tokenIn of ['header', 'query']) {
  test(`a token is renewed ahead of exp and the stream resumes on it (${tokenIn}): 0 lost`, async () => {
    const issued = [];
    const { hub, client } = await setup({
      tokenIn,
      getToken: () => {
        const t = jwt(1.2); // renewed at half its life: every 600 ms
        hub.tokens.add(t);
        issued.push(t);
        return t;
      },
    });
    hub.tokens = new Set();
    const got = [];
    client.subscribe('t', (e) => got.push(e));
    const want = [];
    await until('open', () => client.state === 'open');
    for (let i = 0; i < 40; i++) {
      want.push(hub.publish('t', String(i)));
      await new Promise((r) => setTimeout(r, 50));
    }
    await until('every event', () => got.length === want.length);
    checkExactlyOnce(got, want);
    assert.ok(issued.length >= 3, `only ${issued.length} tokens`);
    const sent = hub.requests.map((r) => (tokenIn === 'header' ? r.headers.authorization?.slice(7) : r.url.searchParams.get('authorization')));
    // Each connection used a token newer than the previous one's (a
    // renewal may abort a connection before it reaches the hub).
    const order = sent.map((t) => issued.indexOf(t));
    assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])), `tokens used: ${order}`);
    assert.ok(new Set(order).size >= 3, `tokens used: ${order}`);
    assert.ok(hub.requests.slice(1).every((r) => r.headers['last-event-id']), 'every renewal resumed');
  });
}

test('topics added and removed under publishing: one reconnection each, 0 lost, 0 doubled', async () => {
  const { hub, client } = await setup();
  const a = [];
  const b = [];
  client.subscribe('a', (e) => a.push(e));
  await until('open', () => client.state === 'open');
  let stop = false;
  const want = [];
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      want.push(hub.publish('a', `a${i}`));
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  await until('some events', () => a.length > 5);
  const sb = client.subscribe('b', (e) => b.push(e));
  const s2 = client.subscribe('a', () => {}); // no new topic: no reconnection
  await until('the second connection', () => hub.requests.length === 2 && client.state === 'open');
  assert.deepEqual(hub.requests[1].url.searchParams.getAll('topic'), ['a', 'b']);
  const fromB = hub.publish('b', 'for b');
  // The hub says which topics select an update: only b's subscription gets
  // it.
  await until('b', () => b.some((e) => e.id === fromB.id));
  sb.close();
  s2.close();
  await until('the third connection', () => hub.requests.length === 3 && client.state === 'open');
  assert.deepEqual(hub.requests[2].url.searchParams.getAll('topic'), ['a']);
  stop = true;
  await publishing;
  await until('every event', () => a.length === want.length);
  checkExactlyOnce(a, want);
  assert.equal(hub.requests.length, 3);
});

test('onGap when history no longer holds the position; onLive says how many were replayed', async () => {
  const gaps = [];
  const lives = [];
  const { hub, client } = await setup({ onGap: (i) => gaps.push(i), onLive: (i) => lives.push(i) });
  const first = hub.publish('t', 'kept');
  hub.publish('t', 'also kept');
  client.subscribe('t');
  await until('live', () => lives.length === 1);
  assert.deepEqual(lives[0], { replayed: 0 });
  client.close();

  const again = createClient({ hub: hub.url, lastEventID: first.id, onGap: (i) => gaps.push(i), onLive: (i) => lives.push(i) });
  cleanup.push(() => again.close());
  again.subscribe('t');
  await until('live after replay', () => lives.length === 2);
  assert.deepEqual(lives[1], { replayed: 1 });
  assert.equal(gaps.length, 0);
  again.close();

  hub.trimmedBefore = 2; // history trimmed past both
  const late = createClient({ hub: hub.url, lastEventID: first.id, onGap: (i) => gaps.push(i) });
  cleanup.push(() => late.close());
  late.subscribe('t');
  await until('the gap', () => gaps.length === 1);
  assert.deepEqual(gaps[0], { lastEventID: first.id });
});

test('close stops everything; subscribing to a closed client throws', async () => {
  const { hub, client, states } = await setup();
  client.subscribe('t');
  await until('open', () => client.state === 'open');
  client.close();
  await until('the hub sees the stream end', () => hub.streams.size === 0);
  assert.equal(states.at(-1).s, 'closed');
  assert.throws(() => client.subscribe('t'), /closed/);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(hub.requests.length, 1);
});

test('subscriptions sharing a connection get only the updates they select', async () => {
  const { hub, client } = await setup();
  const books = [], authors = [], both = [];
  client.subscribe('/books/1', (e) => books.push(e.data));
  client.subscribe(['/authors/1'], (e) => authors.push(e.data));
  client.subscribe(['/books/1', '/authors/1'], (e) => both.push(e.data));
  await until('one connection with every topic', () => client.state === 'open' && hub.requests.at(-1).url.searchParams.getAll('topic').length === 2);
  assert.equal(hub.requests.at(-1).url.searchParams.get('matchedField'), '1');
  hub.publish('/books/1', 'a book');
  hub.publish('/authors/1', 'an author');
  await until('the events', () => both.length === 2);
  assert.deepEqual(books, ['a book']);
  assert.deepEqual(authors, ['an author']);
  assert.deepEqual(both, ['a book', 'an author']);
});

test('a hub without the matched field: every subscription gets every update', async () => {
  const { hub, client } = await setup();
  hub.noMatched = true;
  const books = [], authors = [];
  client.subscribe('/books/1', (e) => books.push(e.data));
  client.subscribe('/authors/1', (e) => authors.push(e.data));
  await until('one connection with every topic', () => client.state === 'open' && hub.requests.at(-1).url.searchParams.getAll('topic').length === 2);
  hub.publish('/books/1', 'a book');
  await until('the event', () => books.length === 1 && authors.length === 1);
});
