// Herald's demo page. Plain JavaScript, no dependencies, no build step.
//
// Data from the network is only ever put into the page with textContent,
// never parsed as HTML.
'use strict';

(() => {
  const cfg = document.body.dataset;
  // Every request goes to the hub: this page's origin, or data-hub when the
  // page is served from another origin (the hub must allow it with CORS).
  const base = cfg.hub ? cfg.hub.replace(/\/*$/, '/') : new URL('.', location.href).href;
  const endpoint = (path) => new URL(path, base);
  const crossOrigin = new URL(base).origin !== location.origin;
  const maxBytes = Number(cfg.maxBytes) || 1024;
  const maxEntries = 200;
  const $ = (id) => document.getElementById(id);
  const encoder = new TextEncoder();

  // ---------------------------------------------------------------- the log

  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // addEntry puts one event at the top of list (newest first).
  function addEntry(list, { type, id, data, note }) {
    const li = el('li', 'entry');
    li.dataset.type = type;
    if (id) li.dataset.id = id;
    const meta = el('div', 'meta');
    meta.append(el('span', 'type', type));
    const now = new Date();
    const time = el('time', 'time', clock(now));
    time.dateTime = now.toISOString();
    meta.append(time);
    if (id) meta.append(el('code', 'id', id));
    if (note) meta.append(el('span', 'note', note));
    li.append(meta, el('pre', 'data', data));
    list.prepend(li);
    while (list.children.length > maxEntries) list.lastElementChild.remove();
    return li;
  }

  // A bounded set of the event ids already shown, to drop duplicates.
  class Seen {
    constructor(limit = 5000) { this.limit = limit; this.set = new Set(); this.order = []; }
    has(id) { return this.set.has(id); }
    add(id) {
      this.set.add(id);
      this.order.push(id);
      if (this.order.length > this.limit) this.set.delete(this.order.shift());
    }
  }

  // ------------------------------------------------------- the demo stream

  const stateBox = $('state');
  const stateText = $('state-text');
  const closeBtn = $('close');
  const connectBtn = $('connect');
  const lastIdEl = $('last-id');
  const log = $('log');
  const demoTypes = ['message', 'welcome', 'tick', 'announce', 'herald-gap'];
  const demo = { es: null, last: '', seen: new Seen(), userClosed: false, timer: 0, backoff: 1000 };

  function setState(state, detail) {
    stateBox.dataset.state = state;
    stateText.textContent = detail ? `${state} (${detail})` : state;
    closeBtn.disabled = state === 'closed';
    connectBtn.disabled = state !== 'closed';
  }

  function connect() {
    clearTimeout(demo.timer);
    demo.userClosed = false;
    const url = endpoint('demo/stream');
    // Resume after the last event seen; the hub replays what followed.
    if (demo.last) url.searchParams.set('lastEventID', demo.last);
    const es = new EventSource(url, { withCredentials: crossOrigin });
    demo.es = es;
    setState('connecting');
    es.onopen = () => {
      demo.backoff = 1000;
      setState('open');
      poll();
    };
    es.onerror = () => {
      if (demo.es !== es) return;
      if (es.readyState === EventSource.CONNECTING) {
        // The stream ended (hub restarting, network gone): the browser
        // reconnects by itself and sends Last-Event-ID.
        setState('reconnecting');
        return;
      }
      // The browser gave up (the hub answered with an error, e.g. while it
      // restarts): reconnect ourselves, backing off.
      es.close();
      demo.es = null;
      if (demo.userClosed) return;
      const wait = demo.backoff;
      demo.backoff = Math.min(demo.backoff * 2, 15000);
      setState('reconnecting', `retry in ${Math.round(wait / 1000)} s`);
      demo.timer = setTimeout(connect, wait);
    };
    for (const type of demoTypes) es.addEventListener(type, onDemoEvent);
  }

  function close() {
    demo.userClosed = true;
    clearTimeout(demo.timer);
    if (demo.es) demo.es.close();
    demo.es = null;
    setState('closed');
  }

  function onDemoEvent(ev) {
    if (ev.target !== demo.es) return;
    if (ev.type === 'herald-gap') {
      let asked = '';
      try { asked = JSON.parse(ev.data).lastEventID; } catch { /* shown as is */ }
      addEntry(log, {
        type: ev.type,
        data: `History no longer holds event ${asked || ev.data}: some events published meanwhile are lost.`,
      });
      showLog();
      return;
    }
    const id = ev.lastEventId;
    if (id) {
      if (demo.seen.has(id)) return; // already shown (replayed twice)
      demo.seen.add(id);
      demo.last = id;
      lastIdEl.textContent = id;
    }
    addEntry(log, { type: ev.type, id, data: ev.data });
    showLog();
  }

  function showLog() { $('log-empty').hidden = log.children.length > 0; }

  closeBtn.addEventListener('click', close);
  connectBtn.addEventListener('click', connect);
  $('clear').addEventListener('click', () => { log.replaceChildren(); showLog(); });

  // ---------------------------------------------------------------- sending

  const form = $('send-form');
  const message = $('message');
  const sendBtn = $('send');
  const sendStatus = $('send-status');
  const bytesEl = $('bytes');

  function status(node, text, kind) {
    node.textContent = text;
    node.dataset.kind = kind || '';
  }

  function countBytes() {
    const n = encoder.encode(message.value).length;
    bytesEl.textContent = String(n);
    bytesEl.classList.toggle('over', n > maxBytes);
    return n;
  }

  async function send(e) {
    e.preventDefault();
    const data = message.value;
    if (!data.trim()) { status(sendStatus, 'Type a message first.', 'error'); message.focus(); return; }
    if (countBytes() > maxBytes) { status(sendStatus, `The message is too long: the limit is ${maxBytes} bytes.`, 'error'); return; }
    sendBtn.disabled = true;
    status(sendStatus, 'Sending…');
    try {
      const res = await fetch(endpoint('demo/send'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data }),
      });
      if (!res.ok) {
        status(sendStatus, `${res.status}: ${(await res.text()).trim()}`, 'error');
        return;
      }
      const { id } = await res.json();
      status(sendStatus, `Sent as ${id}.`, 'ok');
      message.value = '';
      countBytes();
    } catch (err) {
      status(sendStatus, `Could not reach the hub: ${err.message}`, 'error');
    } finally {
      sendBtn.disabled = false;
    }
  }

  form.addEventListener('submit', send);
  message.addEventListener('input', countBytes);
  message.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  if (cfg.publish !== 'true') {
    message.disabled = true;
    sendBtn.disabled = true;
    message.placeholder = 'Sending from this page is turned off on this hub (--demo=false).';
    status(sendStatus, 'Sending is off here: use the Publish form with a publisher token.', '');
  }

  // ------------------------------------------------------ the hub, charted

  const canvas = $('chart');
  const series = { subs: [], rate: [] };
  const points = 60;

  function css(name) { return getComputedStyle(document.body).getPropertyValue(name).trim(); }

  // niceStep returns a round step (1, 2 or 5 times a power of ten, at least
  // 1) such that four steps cover v.
  function niceStep(v) {
    const raw = Math.max(1, v / 4);
    const p = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 30;
    const top = 8;
    const bottom = h - 8;
    const right = w - 4;
    const all = [...series.subs, ...series.rate].filter((v) => v !== null);
    const step = niceStep(Math.max(0, ...all));
    const max = 4 * step;
    g.font = `11px ${css('--mono')}`;
    g.fillStyle = css('--muted');
    g.strokeStyle = css('--grid');
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(bottom - (i / 4) * (bottom - top)) + 0.5;
      g.beginPath();
      g.moveTo(left, y);
      g.lineTo(right, y);
      g.stroke();
      g.fillText(String(step * i), left - 6, y);
    }
    // The chart spans what has been measured, up to the last minute.
    const n = series.subs.length;
    const x = (i) => left + (n > 1 ? i / (n - 1) : 1) * (right - left);
    const y = (v) => bottom - (v / max) * (bottom - top);
    for (const [key, color] of [['rate', css('--rate')], ['subs', css('--accent')]]) {
      const s = series[key];
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.lineJoin = 'round';
      g.beginPath();
      let pen = false;
      s.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        if (pen) g.lineTo(x(i), y(v));
        else g.moveTo(x(i), y(v));
        pen = true;
      });
      g.stroke();
    }
  }

  function push(subs, rate) {
    series.subs.push(subs);
    series.rate.push(rate);
    if (series.subs.length > points) { series.subs.shift(); series.rate.shift(); }
    $('span').textContent = `last ${series.subs.length} s`;
  }

  async function poll() {
    if (document.hidden) return;
    try {
      const res = await fetch(endpoint('demo/stats'), { cache: 'no-store' });
      if (!res.ok) throw new Error(String(res.status));
      const s = await res.json();
      push(s.subscribers, s.eventsPerSecond);
      $('fig-subs').textContent = String(s.subscribers);
      $('fig-subs-label').textContent = s.subscribers === 1 ? 'subscriber' : 'subscribers';
      $('fig-rate').textContent = String(s.eventsPerSecond);
      const n = s.demoSubscribers;
      $('people').textContent = n < 1 ? '' : n === 1 ? '1 person here' : `${n} people here`;
      canvas.setAttribute('aria-label',
        `Chart of the last minute: now ${s.subscribers} subscribers and ${s.eventsPerSecond} events per second.`);
    } catch {
      push(null, null);
      $('fig-subs').textContent = '–';
      $('fig-rate').textContent = '–';
      $('people').textContent = '';
    }
    draw();
  }

  setInterval(poll, 1000);
  window.addEventListener('resize', draw);

  // ---------------------------------------------------------- debug: watch

  const watchForm = $('watch-form');
  const watchLog = $('watch-log');
  const watchState = $('watch-state');
  const watchStart = $('watch-start');
  const watchStop = $('watch-stop');
  const watch = { es: null, seen: new Seen(), abort: null };

  function lines(text) { return text.split('\n').map((s) => s.trim()).filter(Boolean); }

  function startWatch(e) {
    e.preventDefault();
    stopWatch();
    const topics = lines($('watch-topics').value);
    if (!topics.length) { status(watchState, 'Give at least one topic (or *).', 'error'); return; }
    const url = endpoint('.well-known/mercure');
    for (const t of topics) url.searchParams.append('topic', t);
    const token = $('watch-token').value.trim();
    // EventSource cannot set headers: the token goes in the query string.
    if (token) url.searchParams.set('authorization', token);
    const last = $('watch-last').value.trim();
    if (last) url.searchParams.set('lastEventID', last);
    const types = new Set(['message', 'herald-gap', ...$('watch-types').value.split(/[\s,]+/).filter(Boolean)]);
    const es = new EventSource(url, { withCredentials: true });
    watch.es = es;
    watch.seen = new Seen();
    const what = topics.length === 1 ? topics[0] : `${topics.length} topics`;
    status(watchState, 'connecting…');
    watchStop.disabled = false;
    es.onopen = () => status(watchState, `watching ${what}${token ? ' with a token' : ''}`, 'ok');
    es.onerror = () => {
      if (watch.es !== es) return;
      if (es.readyState === EventSource.CONNECTING) { status(watchState, 'reconnecting…', 'warn'); return; }
      explain(url);
    };
    for (const type of types) {
      es.addEventListener(type, (ev) => {
        if (watch.es !== es) return;
        if (ev.type !== 'herald-gap' && ev.lastEventId) {
          if (watch.seen.has(ev.lastEventId)) return;
          watch.seen.add(ev.lastEventId);
        }
        addEntry(watchLog, { type: ev.type, id: ev.type === 'herald-gap' ? '' : ev.lastEventId, data: ev.data });
      });
    }
  }

  // explain asks the hub why it refused the stream: EventSource cannot tell.
  async function explain(url) {
    stopWatch();
    status(watchState, crossOrigin
      ? `the hub refused the subscription, or does not allow this page's origin (${location.origin}) in --cors-origins`
      : 'the hub refused the subscription', 'error');
    const ctl = new AbortController();
    watch.abort = ctl;
    try {
      const res = await fetch(url, { credentials: 'include', signal: ctl.signal });
      if (!res.ok) status(watchState, `${res.status}: ${(await res.text()).trim()}`, 'error');
      else status(watchState, 'the stream was interrupted: press Watch to try again', 'warn');
    } catch { /* unreachable hub, CORS, or aborted */ } finally {
      ctl.abort();
    }
  }

  function stopWatch() {
    if (watch.abort) watch.abort.abort();
    watch.abort = null;
    if (watch.es) {
      watch.es.close();
      watch.es = null;
      status(watchState, 'not watching');
    }
    watchStop.disabled = true;
  }

  watchForm.addEventListener('submit', startWatch);
  watchStop.addEventListener('click', stopWatch);

  // -------------------------------------------------------- debug: publish

  const pubForm = $('pub-form');
  const pubStatus = $('pub-status');

  async function publish(e) {
    e.preventDefault();
    const topics = lines($('pub-topic').value);
    if (!topics.length) { status(pubStatus, 'Give a topic.', 'error'); $('pub-topic').focus(); return; }
    const body = new URLSearchParams();
    for (const t of topics) body.append('topic', t);
    body.set('data', $('pub-data').value);
    const type = $('pub-type').value.trim();
    if (type) body.set('type', type);
    if ($('pub-private').checked) body.set('private', 'on');
    const headers = {};
    const token = $('pub-token').value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    $('pub-send').disabled = true;
    status(pubStatus, 'Publishing…');
    try {
      const res = await fetch(endpoint('.well-known/mercure'), { method: 'POST', headers, body, credentials: 'include' });
      const text = (await res.text()).trim();
      if (res.ok) status(pubStatus, `Published as ${text}.`, 'ok');
      else status(pubStatus, `${res.status}: ${text}`, 'error');
    } catch (err) {
      status(pubStatus, `Could not reach the hub: ${err.message}`, 'error');
    } finally {
      $('pub-send').disabled = false;
    }
  }

  pubForm.addEventListener('submit', publish);

  // ------------------------------------------------------------------ start

  $('curl').textContent = `curl -N '${endpoint(`.well-known/mercure?topic=${encodeURIComponent(cfg.topic)}`).href}'`;
  // Leaving the page closes its streams; coming back (from the back-forward
  // cache) reopens the demo stream where it left off.
  window.addEventListener('pagehide', () => {
    if (demo.es) demo.es.close();
    demo.es = null;
    stopWatch();
  });
  window.addEventListener('pageshow', (e) => {
    if (e.persisted && !demo.userClosed) connect();
  });
  connect();
  poll();
})();
