// Many tabs, one connection: clients in one Node process share a connection
// through the real BroadcastChannel and a Web Locks stand-in (Node has no
// navigator.locks) that grants each lock to one holder at a time, in order.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../herald.js';
import { startHub, until } from './fakehub.js';

// Locks is the part of the Web Locks API the client uses: request(name, cb)
// holds the lock while cb's promise is pending; query() lists the held ones.
class Locks {
  held = new Map();
  waiting = new Map();
  log = []; // every request, in order
  request(name, cb) {
    return new Promise((resolve, reject) => {
      const q = this.waiting.get(name) || [];
      const w = { name, cb, resolve, reject };
      this.log.push(w);
      q.push(w);
      this.waiting.set(name, q);
      this.grant(name);
    });
  }
  grant(name) {
    const w = this.waiting.get(name)?.shift();
    if (!w || this.held.has(name)) {
      if (w) this.waiting.get(name).unshift(w);
      return;
    }
    this.held.set(name, w);
    Promise.resolve()
      .then(() => w.cb({ name }))
      .then(w.resolve, w.reject)
      .finally(() => {
        this.held.delete(name);
        this.grant(name);
      });
  }
  async query() {
    return { held: [...this.held.keys()].map((name) => ({ name })), pending: [] };
  }
}

let saved;
before(() => {
  saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { locks: new Locks() }, configurable: true });
});
after(() => {
  if (saved) Object.defineProperty(globalThis, 'navigator', saved);
  else delete globalThis.navigator;
});

const cleanup = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()();
});

// tab creates a client that records what it receives.
function tab(hub, name) {
  const t = { name, got: [], roles: [], states: [] };
  t.client = createClient({
    hub: hub.url,
    initialDelay: 20,
    onRole: (r) => t.roles.push(r),
    onState: (s) => t.states.push(s),
  });
  cleanup.push(() => t.client.close());
  return t;
}

function exactlyOnce(t, want) {
  assert.deepEqual(t.got.map((e) => e.id), want.map((u) => u.id), `${t.name} got each event once, in order`);
}

test('tabs share one connection; closing the leader hands it over: 0 lost, 0 doubled', async () => {
  const hub = await startHub();
  cleanup.push(() => hub.close());
  const tabs = ['a', 'b', 'c'].map((n) => tab(hub, n));
  for (const t of tabs) t.client.subscribe('news', (e) => t.got.push(e));
  await until('one connection, open everywhere', () => hub.streams.size === 1 && tabs.every((t) => t.client.state === 'open'));
  assert.deepEqual(tabs.map((t) => t.client.role).sort(), ['follower', 'follower', 'leader']);
  await until('every client knows the others', () => tabs.every((t) => t.client.clients === 3));

  const want = [];
  for (let i = 0; i < 5; i++) want.push(hub.publish('news', `before ${i}`));
  await until('the events in every tab', () => tabs.every((t) => t.got.length === 5));
  assert.equal(hub.requests.length, 1, 'one request for three tabs');

  const leader = tabs.find((t) => t.client.role === 'leader');
  const rest = tabs.filter((t) => t !== leader);
  leader.client.close();
  for (let i = 0; i < 5; i++) want.push(hub.publish('news', `during ${i}`));
  await until('a new leader', () => rest.some((t) => t.client.role === 'leader'));
  await until('its connection', () => hub.streams.size === 1 && hub.requests.length === 2);
  for (let i = 0; i < 5; i++) want.push(hub.publish('news', `after ${i}`));
  await until('every event in the remaining tabs', () => rest.every((t) => t.got.length === 15));
  for (const t of rest) exactlyOnce(t, want);
  assert.equal(hub.requests[1].headers['last-event-id'], want[4].id, 'the new leader resumed where the old one stopped');
  // The new leader dropped the old leader's entry: 2 clients now.
  await until('two clients', () => rest.every((t) => t.client.clients === 2));
});

test('a tab that dies without a word is forgotten by every tab once another leads', async () => {
  const hub = await startHub();
  cleanup.push(() => hub.close());
  const tabs = ['a', 'b', 'c', 'd'].map((n) => tab(hub, n));
  for (const t of tabs) t.client.subscribe('news');
  await until('four clients everywhere', () => hub.streams.size === 1 && tabs.every((t) => t.client.clients === 4));
  const leader = tabs.find((t) => t.client.role === 'leader');
  const follower = tabs.find((t) => t.client.role === 'follower');
  // The follower's tab crashes: the browser frees its locks (its own, and
  // its place in the queue for the connection's), and it says nothing.
  const locks = globalThis.navigator.locks;
  const i = tabs.indexOf(follower);
  const [own, queued] = locks.log.slice(-8).slice(2 * i, 2 * i + 2); // each client asks for its own lock, then the leader's
  assert.equal(locks.held.get(own.name), own, "the follower holds its own lock");
  locks.held.delete(own.name);
  const q = locks.waiting.get(queued.name);
  q.splice(q.indexOf(queued), 1);
  leader.client.close();
  const rest = tabs.filter((t) => t !== leader && t !== follower);
  await until('a new leader', () => rest.some((t) => t.client.role === 'leader'));
  await until('two clients left, in every tab', () => rest.every((t) => t.client.clients === 2));
});

test("a follower's topics join the connection, and leave it with the follower", async () => {
  const hub = await startHub();
  cleanup.push(() => hub.close());
  const a = tab(hub, 'a');
  a.client.subscribe('x', (e) => a.got.push(e));
  await until('open', () => a.client.state === 'open' && a.client.role === 'leader');
  const b = tab(hub, 'b');
  b.client.subscribe('y', (e) => b.got.push(e));
  await until('the reconnection with both topics', () => hub.requests.length === 2 && hub.streams.size === 1);
  assert.deepEqual(hub.requests[1].url.searchParams.getAll('topic'), ['x', 'y']);
  await until('b open', () => b.client.state === 'open');
  const y = hub.publish('y', 'for b');
  await until('b receives y through a', () => b.got.length === 1);
  assert.equal(b.got[0].id, y.id);
  assert.equal(b.client.role, 'follower');

  b.client.close();
  await until('the reconnection without y', () => hub.requests.length === 3 && hub.streams.size === 1);
  assert.deepEqual(hub.requests[2].url.searchParams.getAll('topic'), ['x']);
  assert.equal(hub.requests[2].headers['last-event-id'], y.id);
});

test('a tab that opens after the first event knows where the stream is', async () => {
  const hub = await startHub();
  cleanup.push(() => hub.close());
  const a = tab(hub, 'a');
  a.client.subscribe('x', (e) => a.got.push(e));
  await until('open', () => a.client.state === 'open');
  const first = hub.publish('x', '1');
  await until('a got it', () => a.got.length === 1);
  const b = tab(hub, 'b');
  b.client.subscribe('x', (e) => b.got.push(e));
  await until('b knows the position', () => b.client.lastEventID === first.id && b.client.state === 'open');
  a.client.close();
  const second = hub.publish('x', '2');
  await until('b takes over and receives the next event', () => b.got.length === 1);
  assert.equal(b.got[0].id, second.id);
});
