// A draft-08 subscriber of herald serve built on Node's eventsource
// package, driven by cmd/herald's TestNodeEventSourceDraft08. It subscribes
// to $HUB_SUBSCRIBE_URL with the access token $HUB_TOKEN in the
// Authorization header (the package's fetch option), and writes one JSON
// line per thing that happens on standard output: each response (status,
// the Last-Event-ID it sent, the Mercure-Last-Event-ID it got), open,
// event, error. On standard input it takes "close", "reopen" (resume with
// the last_event_id query parameter) and "exit".
import { EventSource } from 'eventsource';
import readline from 'node:readline';

const url = process.env.HUB_SUBSCRIBE_URL;
const token = process.env.HUB_TOKEN;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let lastId = '';

function open(u) {
  const es = new EventSource(u, {
    fetch: async (input, init) => {
      const headers = { ...init.headers, Authorization: 'Bearer ' + token };
      const resp = await fetch(input, { ...init, headers });
      out({
        kind: 'response',
        status: resp.status,
        sent: headers['Last-Event-ID'] ?? '',
        got: resp.headers.get('mercure-last-event-id') ?? '',
        legacy: resp.headers.get('last-event-id') ?? '',
      });
      return resp;
    },
  });
  es.onopen = () => out({ kind: 'open' });
  es.onmessage = (e) => {
    lastId = e.lastEventId;
    out({ kind: 'event', type: e.type, id: e.lastEventId, data: e.data });
  };
  es.addEventListener('mercure', (e) => out({ kind: 'event', type: e.type, id: e.lastEventId, data: e.data }));
  es.onerror = (e) => out({ kind: 'error', message: String(e.message ?? ''), code: e.code ?? 0 });
  return es;
}

let es = open(url);
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  switch (line) {
    case 'close':
      es.close();
      out({ kind: 'closed', id: lastId });
      break;
    case 'reopen': {
      const u = new URL(url);
      u.searchParams.set('last_event_id', lastId);
      es = open(u.toString());
      break;
    }
    case 'exit':
      es.close();
      process.exit(0);
  }
});
