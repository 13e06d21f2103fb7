// A small Mercure-like hub on node:http for the client's tests: history,
// resume from Last-Event-ID, herald-live and herald-gap, tokens, and failures
// on demand. It records every request.
import http from 'node:http';

export async function startHub() {
  const hub = {
    history: [], // {id, topic, type, data}
    streams: new Set(), // open responses: {res, topics}
    requests: [], // {url, headers}
    failNext: [], // statuses to answer the next requests with
    tokens: null, // when a Set: the accepted tokens (header or ?authorization=)
    retryAfter: '',
    trimmedBefore: 0, // ids older than history[trimmedBefore] are no longer held
    seq: 0,
  };
  const wants = (topics, u) => topics.includes('*') || topics.includes(u.topic);
  // frame encodes u for a stream of topics; with matched (Herald's
  // matchedField), it says which of them select it.
  const frame = (u, topics, matched) =>
    (matched ? `matched: ${topics.flatMap((t, i) => (wants([t], u) ? [i] : [])).join(' ')}\n` : '') +
    `id: ${u.id}\n${u.type ? `event: ${u.type}\n` : ''}data: ${u.data.split('\n').join('\ndata: ')}\n\n`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    hub.requests.push({ url, headers: req.headers });
    const status = hub.failNext.shift();
    if (status) {
      if (status === 'drop') return req.socket.destroy();
      res.writeHead(status, hub.retryAfter ? { 'Retry-After': hub.retryAfter } : {});
      return res.end(`failure ${status}\n`);
    }
    if (hub.tokens) {
      const auth = req.headers.authorization?.replace(/^Bearer /, '') || url.searchParams.get('authorization');
      if (!hub.tokens.has(auth)) {
        res.writeHead(401, { 'Content-Type': 'text/plain' });
        return res.end('invalid subscriber token: expired\n');
      }
    }
    const topics = url.searchParams.getAll('topic');
    const matched = url.searchParams.get('matchedField') === '1' && !hub.noMatched;
    const last = req.headers['last-event-id'] || url.searchParams.get('lastEventID') || '';
    let from = hub.history.length;
    let gap = false;
    if (last === 'earliest') from = hub.trimmedBefore;
    else if (last) {
      const i = hub.history.findIndex((u) => u.id === last);
      if (i < hub.trimmedBefore) gap = true;
      else from = i + 1;
    }
    const newest = hub.history.at(-1)?.id || 'earliest';
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Last-Event-ID': last || newest });
    if (gap && url.searchParams.get('gapEvent')) res.write(`event: herald-gap\ndata: ${JSON.stringify({ lastEventID: last })}\n\n`);
    let n = 0;
    for (const u of hub.history.slice(from)) {
      if (wants(topics, u)) {
        res.write(frame(u, topics, matched));
        n++;
      }
    }
    if (url.searchParams.get('liveEvent')) res.write(`event: herald-live\ndata: {"replayed":${n}}\n\n`);
    const s = { res, topics, matched };
    hub.streams.add(s);
    res.on('close', () => hub.streams.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  hub.url = `http://127.0.0.1:${server.address().port}/.well-known/mercure`;
  hub.publish = (topic, data, type = '') => {
    const u = { id: `urn:test:${++hub.seq}`, topic, type, data };
    hub.history.push(u);
    if (!hub.silent) for (const s of hub.streams) if (wants(s.topics, u)) s.res.write(frame(u, s.topics, s.matched));
    return u;
  };
  // cut ends every open stream, as a hub restart or a proxy would.
  hub.cut = () => {
    for (const s of hub.streams) s.res.destroy();
  };
  // silent, when true, stops sending anything to the open streams (a proxy
  // that lost them) while keeping them open.
  hub.silent = false;
  // end ends every open stream cleanly, as a hub that shuts down does.
  hub.end = () => {
    for (const s of hub.streams) s.res.end('retry: 50\n\n');
  };
  hub.close = () => {
    hub.cut();
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  };
  return hub;
}

// until polls cond every 5 ms for up to ms and fails with what.
export async function until(what, cond, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
