// herald.js: the browser client of Herald, for any Mercure hub.
//
// One connection per browser, not per tab; never gives up silently; renews
// tokens and changes topics without losing or doubling an event. An ES
// module with no dependencies: see README.md for the API and the design.

const GAP = 'herald-gap';
const LIVE = 'herald-live';

/**
 * createParser returns a Server-Sent Events parser that follows the WHATWG
 * rules exactly: lines end with CRLF, LF or CR (also split across chunks), a
 * leading BOM is skipped, data lines are joined with LF, an id with NUL is
 * ignored, retry takes ASCII digits only, comments and unknown fields are
 * ignored, and an event is dispatched on a blank line when it has data.
 * onEvent receives {type, data, id, lastEventId, matched}: id is the event's
 * own id field ('' when it has none), lastEventId the stream's last event id
 * as EventSource reports it, and matched, when present, Herald's "matched"
 * field (the indexes of the selectors that select it). onRetry receives a
 * new reconnection time in ms.
 */
export function createParser(onEvent, onRetry) {
  let buf = '', data = '', type = '', own = '', hasId = false, lastBuf = '', lastId = '', matched = '';
  let bom = true, skipLF = false;
  const re = /\r\n?|\n/g;
  const line = (l) => {
    if (l === '') {
      lastId = lastBuf;
      if (data !== '') onEvent({ type: type || 'message', data: data.slice(0, -1), id: hasId ? own : '', lastEventId: lastId, ...(matched && { matched }) });
      data = type = matched = '';
      hasId = false;
      return;
    }
    if (l[0] === ':') return;
    const c = l.indexOf(':');
    const f = c < 0 ? l : l.slice(0, c);
    let v = c < 0 ? '' : l.slice(c + 1);
    if (v[0] === ' ') v = v.slice(1);
    if (f === 'data') data += v + '\n';
    else if (f === 'event') type = v;
    else if (f === 'id') { if (!v.includes('\0')) { lastBuf = own = v; hasId = true; } }
    else if (f === 'retry' && /^\d+$/.test(v) && onRetry) onRetry(+v);
    else if (f === 'matched') matched = v;
  };
  return {
    push(chunk) {
      if (!chunk) return;
      if (bom) { bom = false; if (chunk[0] === '\uFEFF') chunk = chunk.slice(1); }
      if (skipLF && chunk) { skipLF = false; if (chunk[0] === '\n') chunk = chunk.slice(1); }
      re.lastIndex = buf.length; // what is buffered holds no line break
      buf += chunk;
      let start = 0, m;
      while ((m = re.exec(buf))) {
        line(buf.slice(start, m.index));
        start = re.lastIndex;
        if (m[0] === '\r' && start === buf.length) skipLF = true;
      }
      buf = buf.slice(start);
    },
  };
}

/**
 * backoff returns how long to wait before reconnection attempt number
 * attempt (0 first): exponential, capped at max, with equal jitter (half
 * fixed, half random), so that clients cut off together come back spread out.
 */
export function backoff(attempt, initial = 1000, max = 30000, random = Math.random) {
  const cap = Math.min(max, initial * 2 ** attempt);
  return cap / 2 + (random() * cap) / 2;
}

/**
 * renewDelay returns in how many ms to renew the JWT token: margin ms before
 * it expires, or at half its remaining life when that is shorter; -1 when
 * the token is not a JWT with an exp claim, or has expired. The remaining
 * life is the shorter of exp - now and exp - iat, so that a browser whose
 * clock is behind the issuer's still renews a fresh token in time.
 */
export function renewDelay(token, margin = 30000, now = Date.now()) {
  let p;
  try {
    p = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return -1;
  }
  if (typeof p?.exp !== 'number') return -1;
  let left = p.exp * 1000 - now;
  if (typeof p.iat === 'number') left = Math.min(left, (p.exp - p.iat) * 1000);
  return left > 0 ? left - Math.min(margin, left / 2) : -1;
}

/**
 * union returns the sorted topics of every entry of tabs (a Map of topic
 * lists), without duplicates: the topics of the shared connection.
 */
export function union(tabs) {
  return [...new Set([...tabs.values()].flat())].sort();
}

const fail = (status, message, retryAfter) => Object.assign(new Error(message), { status, retryAfter });

/**
 * createClient returns a client of the hub at options.hub. See herald.d.ts
 * for the options and README.md for what it guarantees.
 */
export function createClient(options = {}) {
  const o = options;
  const hub = new URL(o.hub || '/.well-known/mercure', globalThis.location?.href);
  const me = Math.random().toString(36).slice(2);
  const locks = globalThis.navigator?.locks;
  const share = o.share !== false && locks && globalThis.BroadcastChannel;
  const key = 'herald:' + (typeof o.share === 'string' ? o.share : hub.href);
  const tabs = new Map(); // client id -> its topics, for every client that shares
  const subs = new Set();
  const seen = new Set();
  const initial = o.initialDelay ?? 1000;
  const max = o.maxDelay ?? 30000;
  const idleMs = o.idleTimeout ?? 45000;
  let state = 'idle', role = share ? 'follower' : 'solo', last = o.lastEventID || '', closed = false;
  let ctl, topics = [], running = false, queued = false, token, renewTimer, stepDown, release, chan;

  const call = (fn, ...a) => {
    try {
      fn?.(...a);
    } catch (e) {
      setTimeout(() => { throw e; }); // reported, never breaks the stream
    }
  };
  const post = (m) => chan?.postMessage(m);
  const setState = (s, info = {}) => {
    state = s;
    if (role === 'leader') post({ t: 'state', s, info });
    call(o.onState, s, info);
  };
  const setRole = (r) => call(o.onRole, (role = r));

  // deliver hands an update, once per id, to the subscriptions that select
  // it: those with one of the topics (selectors) the hub said match it, all
  // of them when it did not say (another hub).
  const deliver = (e) => {
    if (e.id) {
      if (seen.has(e.id)) return false;
      seen.add(e.id);
      if (seen.size > 2000) seen.delete(seen.values().next().value);
      last = e.id;
    }
    const { topics: m, ...rest } = e;
    const ev = { ...rest, json: () => JSON.parse(e.data) };
    for (const s of subs) if (!m || s.topics.some((t) => m.includes(t))) call(s.h[e.type] || s.h['*'], ev);
    return true;
  };
  const special = (t, info) => call(t === GAP ? o.onGap : o.onLive, info);

  // ------------------------------------------------ the connection (leader)

  const leads = () => role !== 'follower' && !closed;

  // restart (re)opens the connection with the current topics, from the last
  // event id: at once when one is open, otherwise when the loop next runs.
  function restart() {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      if (!leads()) return;
      const next = union(tabs);
      if (running && next.join('\n') === topics.join('\n')) return;
      topics = next;
      if (running) ctl?.abort();
      else run();
    });
  }

  async function run() {
    running = true;
    let attempt = 0, authRetried = false, retry, dropped = false, stall, stalled = false;
    while (leads() && topics.length) {
      const c = (ctl = new AbortController());
      let delay = 0, err;
      try {
        if (!dropped) setState('connecting'); // else still reconnecting
        if (o.getToken && token === undefined) {
          token = (await o.getToken()) ?? null;
          schedule();
        }
        const u = new URL(hub);
        const asked = topics; // this connection's, for its matched fields
        for (const t of asked) u.searchParams.append('topic', t);
        u.searchParams.set('gapEvent', '1');
        u.searchParams.set('liveEvent', '1');
        u.searchParams.set('matchedField', '1');
        const headers = { Accept: 'text/event-stream' };
        if (last) headers['Last-Event-ID'] = last;
        if (token && o.tokenIn === 'query') u.searchParams.set('authorization', token);
        else if (token && o.tokenIn !== 'cookie') headers.Authorization = 'Bearer ' + token;
        const res = await fetch(u, { headers, signal: c.signal, credentials: o.credentials || 'same-origin', cache: 'no-store' });
        if (!res.ok) {
          const ra = res.headers.get('retry-after');
          throw fail(res.status, (await res.text()).trim().slice(0, 500) || res.statusText, /^\d+$/.test(ra) ? ra * 1000 : 0);
        }
        if (!/^text\/event-stream/i.test(res.headers.get('content-type'))) throw fail(res.status, 'the response is not an event stream');
        attempt = 0;
        authRetried = dropped = false;
        let live = !last;
        if (!last && (last = res.headers.get('last-event-id') || '')) post({ t: 'pos', last });
        setState('open');
        const p = createParser((e) => {
          if (e.type === GAP || e.type === LIVE) {
            let info;
            try { info = JSON.parse(e.data); } catch { info = {}; }
            if (e.type === LIVE) live = true;
            special(e.type, info);
            post({ t: 'sp', type: e.type, info });
            return;
          }
          const ev = { type: e.type, data: e.data, id: e.id, replayed: !live };
          if (e.matched) ev.topics = e.matched.split(' ').map((i) => asked[i]);
          if (deliver(ev)) post({ t: 'ev', ev });
        }, (ms) => (retry = ms));
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        // A stream silent for idleTimeout ms is dead (a proxy or a NAT
        // dropped it without a word; Herald sends a heartbeat every 15 s):
        // abort it and reconnect.
        const idle = () => {
          clearTimeout(stall);
          if (idleMs > 0) stall = setTimeout(() => c.abort((stalled = true)), idleMs);
        };
        idle();
        for (let r; !(r = await reader.read()).done; idle()) p.push(r.value);
        clearTimeout(stall);
        delay = retry ?? backoff(0, initial, max); // the hub ended the stream
      } catch (e) {
        clearTimeout(stall);
        if (c.signal.aborted && !stalled) {
          dropped = false; // closed, or restarted on purpose
          continue;
        }
        err = stalled ? fail(0, `no data for ${idleMs} ms`) : e.status === undefined ? fail(0, e.message || 'network error') : e;
        stalled = false;
        if (err.status === 401 || err.status === 403) {
          if (o.getToken && !authRetried) {
            authRetried = true; // one fresh token, then give up
            token = undefined;
            continue;
          }
          call(o.onError, err);
          setState('failed', { status: err.status, message: err.message });
          break;
        }
        call(o.onError, err);
        delay = Math.min(max, Math.max(backoff(attempt++, initial, max), err.retryAfter || 0));
      }
      dropped = true;
      setState('reconnecting', err ? { retryIn: delay, status: err.status, message: err.message } : { retryIn: delay });
      await new Promise((r) => {
        const t = setTimeout(r, delay);
        c.signal.addEventListener('abort', () => r(clearTimeout(t)));
        if (c.signal.aborted) r(clearTimeout(t));
      });
    }
    running = false;
    if (!closed && role !== 'follower' && state !== 'failed') setState('idle');
  }

  function schedule() {
    clearTimeout(renewTimer);
    const d = token ? renewDelay(token, o.renewBefore ?? 30000) : -1;
    if (d >= 0) renewTimer = setTimeout(renew, d);
  }

  async function renew() {
    try {
      token = (await o.getToken()) ?? null;
      schedule();
    } catch (e) {
      token = undefined; // fetched again before the next connection
      call(o.onError, fail(0, 'getToken: ' + e.message));
    }
    if (running && !closed) ctl?.abort(); // resume on the new token
  }

  // ------------------------------------------- many tabs: one connection

  function onMessage({ data: m }) {
    if (closed) return;
    switch (m.t) {
      case 'hi': // a new client asks what the others know
        if (role === 'leader') post({ t: 'reg', tabs: [...tabs], last, s: state });
        break;
      case 'reg':
        for (const [k, v] of m.tabs) if (!tabs.has(k)) tabs.set(k, v);
        if (!last) last = m.last;
        if (role === 'follower') setState(m.s);
        break;
      case 'sub':
        tabs.set(m.from, m.topics);
        restart();
        break;
      case 'bye':
        tabs.delete(m.from);
        restart();
        break;
      case 'pos':
        if (!last) last = m.last;
        break;
      case 'ev':
        deliver(m.ev);
        break;
      case 'sp':
        special(m.type, m.info);
        break;
      case 'state':
        if (role === 'follower') setState(m.s, m.info);
    }
  }

  async function lead() {
    if (closed) return;
    // Forget the clients that are gone (their own lock is free).
    const held = new Set((await locks.query().catch(() => ({ held: [] }))).held.map((l) => l.name));
    for (const k of tabs.keys()) {
      if (k !== me && !held.has(key + ':' + k)) {
        tabs.delete(k);
        post({ t: 'bye', from: k }); // the others forget it too
      }
    }
    setRole('leader');
    restart();
    return new Promise((r) => (stepDown = r));
  }

  const announce = () => {
    const mine = union(new Map([...subs].map((s, i) => [i, s.topics])));
    tabs.set(me, mine);
    post({ t: 'sub', from: me, topics: mine });
    restart();
  };

  if (share) {
    chan = new BroadcastChannel(key);
    chan.onmessage = onMessage;
    locks.request(key + ':' + me, () => new Promise((r) => (release = r)));
    post({ t: 'hi' });
    locks.request(key, lead);
    globalThis.addEventListener?.('pagehide', () => post({ t: 'bye', from: me }));
    globalThis.addEventListener?.('pageshow', (e) => e.persisted && announce());
  }
  // Back online: retry now rather than at the end of the backoff.
  globalThis.addEventListener?.('online', () => state === 'reconnecting' && leads() && ctl?.abort());
  queueMicrotask(() => closed || call(o.onRole, role)); // never from inside createClient

  return {
    get state() { return state; },
    get role() { return role; },
    get lastEventID() { return last; },
    get clients() { return tabs.size; },
    subscribe(topicList, handlers = {}) {
      if (closed) throw new Error('herald: the client is closed');
      const s = { topics: [].concat(topicList), h: typeof handlers === 'function' ? { message: handlers } : handlers };
      subs.add(s);
      announce();
      return {
        close() {
          if (subs.delete(s) && !closed) announce();
        },
      };
    },
    close() {
      if (closed) return;
      post({ t: 'bye', from: me });
      closed = true;
      subs.clear();
      clearTimeout(renewTimer);
      ctl?.abort();
      stepDown?.();
      release?.();
      chan?.close();
      chan = null;
      setState('closed');
    },
  };
}
