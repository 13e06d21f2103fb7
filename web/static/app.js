// Herald's demo page. Plain JavaScript on herald.js (the hub's browser
// client, served by the hub at /herald.js), no build step.
//
// Data from the network is only ever put into the page with textContent,
// never parsed as HTML.
import { createClient } from '../herald.js';

{
  const cfg = document.body.dataset;
  // Every request goes to the hub: this page's origin, or data-hub when the
  // page is served from another origin (the hub must allow it with CORS).
  const base = cfg.hub ? cfg.hub.replace(/\/*$/, '/') : new URL('.', location.href).href;
  const endpoint = (path) => new URL(path, base);
  const crossOrigin = new URL(base).origin !== location.origin;
  const credentials = crossOrigin ? 'include' : 'same-origin';
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
  function addEntry(list, { type, id, data, note, replayed }) {
    const li = el('li', 'entry');
    li.dataset.type = type;
    if (id) li.dataset.id = id;
    if (replayed) li.dataset.replayed = 'true';
    const meta = el('div', 'meta');
    meta.append(el('span', 'type', type));
    const now = new Date();
    const time = el('time', 'time', clock(now));
    time.dateTime = now.toISOString();
    meta.append(time);
    if (id) meta.append(el('code', 'id', id));
    if (replayed) meta.append(el('span', 'replayed', 'replayed from history'));
    if (note) meta.append(el('span', 'note', note));
    li.append(meta, el('pre', 'data', data));
    list.prepend(li);
    while (list.children.length > maxEntries) list.lastElementChild.remove();
    return li;
  }

  const since = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
  const reason = (info) => (info.status ? `${info.status}: ${info.message}` : info.message) || 'the hub ended the stream';

  // ------------------------------------------------------- the demo stream

  const stateBox = $('state');
  const stateText = $('state-text');
  const closeBtn = $('close');
  const connectBtn = $('connect');
  const lastIdEl = $('last-id');
  const shareEl = $('share');
  const log = $('log');
  // One connection for every tab of this page in this browser: the tab
  // that holds it relays its events to the others.
  const demo = { client: null, last: '', down: 0, wasOpen: false };

  function setState(state, info = {}) {
    stateBox.dataset.state = state;
    stateText.textContent = info.retryIn !== undefined ? `${state} (retry in ${Math.round(info.retryIn / 1000)} s)` : state;
    closeBtn.disabled = state === 'closed';
    connectBtn.disabled = state !== 'closed';
  }

  // onState follows the connection and says in the log when the hub became
  // unreachable and when it came back.
  function onState(state, info) {
    setState(state, info);
    if (state === 'reconnecting' && demo.wasOpen && !demo.down) {
      demo.down = Date.now();
      addEntry(log, { type: 'hub-down', data: `The hub became unreachable (${reason(info)}). Reconnecting; what is published meanwhile will follow from history.` });
      showLog();
    } else if (state === 'open') {
      if (demo.down) {
        addEntry(log, { type: 'hub-up', data: `The hub is back after ${since(demo.down)}: resuming after event ${demo.last || '(none)'}.` });
        showLog();
        // Whatever the send box said before the connection was lost (an
        // empty message, an unreachable hub) no longer holds.
        if (sendStatus.dataset.kind === 'error') status(sendStatus, '');
      }
      if (demo.client?.role === 'follower' && !demo.wasOpen) {
        addEntry(log, { type: 'shared', data: 'Another tab of this page holds the connection to the hub; this tab receives its events. Close that tab and this one (or another) takes over, resuming where it stopped.' });
        showLog();
      }
      demo.down = 0;
      demo.wasOpen = true;
      poll();
    }
    showShare();
  }

  function showShare() {
    const c = demo.client;
    if (!c || c.state === 'closed') { shareEl.textContent = ''; return; }
    const n = c.clients;
    const tabs = n === 1 ? 'this tab only' : `${n} tabs`;
    shareEl.dataset.role = c.role;
    shareEl.textContent = c.role === 'leader' ? `this tab holds the connection (${tabs})`
      : c.role === 'follower' ? `this tab shares another tab's connection (${tabs})`
      : 'a connection of its own';
  }

  function onDemoEvent(ev) {
    if (ev.id) {
      demo.last = ev.id;
      lastIdEl.textContent = ev.id;
    }
    // A greeting is this connection's own, even when it closes the history.
    addEntry(log, { type: ev.type, id: ev.id, data: ev.data, replayed: ev.replayed && ev.type !== 'welcome' });
    showLog();
  }

  function connect() {
    const client = createClient({
      hub: endpoint('demo/stream'),
      credentials,
      // Resume after the last event seen: the hub replays what followed.
      lastEventID: demo.last,
      onState: (s, info) => { if (demo.client === client) onState(s, info); },
      onRole: () => { if (demo.client === client) showShare(); },
      onGap: ({ lastEventID }) => {
        addEntry(log, {
          type: 'herald-gap',
          data: `History no longer holds event ${lastEventID}: some events published meanwhile are lost.`,
        });
        showLog();
      },
    });
    demo.client = client;
    const handlers = {};
    for (const type of ['message', 'welcome', 'tick', 'announce']) handlers[type] = onDemoEvent;
    client.subscribe(cfg.topic, handlers);
  }

  function close() {
    const c = demo.client;
    demo.client = null;
    demo.down = 0;
    demo.wasOpen = false;
    if (c) c.close();
    setState('closed');
    showShare();
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
  const watchStop = $('watch-stop');
  const watch = { client: null };

  function lines(text) { return text.split('\n').map((s) => s.trim()).filter(Boolean); }

  function startWatch(e) {
    e.preventDefault();
    stopWatch();
    const topics = lines($('watch-topics').value);
    if (!topics.length) { status(watchState, 'Give at least one topic (or *).', 'error'); return; }
    const token = $('watch-token').value.trim();
    const what = topics.length === 1 ? topics[0] : `${topics.length} topics`;
    // A connection of its own (not shared with other tabs): its topics and
    // token are this tab's. The token goes in the Authorization header.
    const client = createClient({
      hub: endpoint('.well-known/mercure'),
      share: false,
      credentials: 'include',
      lastEventID: $('watch-last').value.trim(),
      getToken: token ? () => token : undefined,
      onState: (state, info) => {
        if (watch.client !== client) return;
        if (state === 'open') status(watchState, `watching ${what}${token ? ' with a token' : ''}`, 'ok');
        else if (state === 'reconnecting') {
          status(watchState, crossOrigin && !info.status
            ? `reconnecting: the hub is unreachable, or does not allow this page's origin (${location.origin}) in --cors-origins`
            : `reconnecting… (${reason(info)})`, 'warn');
        } else if (state === 'failed') status(watchState, `${info.status}: ${info.message}`, 'error');
        else if (state === 'connecting') status(watchState, 'connecting…');
      },
      onGap: ({ lastEventID }) => addEntry(watchLog, { type: 'herald-gap', data: `History no longer holds event ${lastEventID}.` }),
    });
    watch.client = client;
    watchStop.disabled = false;
    // Every event type, not only the ones listened for.
    client.subscribe(topics, { '*': (ev) => addEntry(watchLog, { type: ev.type, id: ev.id, data: ev.data, replayed: ev.replayed }) });
  }

  function stopWatch() {
    if (watch.client) {
      watch.client.close();
      watch.client = null;
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
  connect();
  poll();
  setInterval(showShare, 1000);
}
