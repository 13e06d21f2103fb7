// The SSE parser against the WHATWG rules, fed whole and in every split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createParser } from '../herald.js';

// parse feeds chunks to a parser and returns the events and retry values.
function parse(...chunks) {
  const events = [];
  const retries = [];
  const p = createParser((e) => events.push(e), (ms) => retries.push(ms));
  for (const c of chunks) p.push(c);
  return { events, retries };
}

// everySplit checks that text gives the same result however it is cut in two
// or in single characters.
function everySplit(text, want) {
  assert.deepEqual(parse(text), want, 'whole');
  for (let i = 0; i <= text.length; i++) {
    assert.deepEqual(parse(text.slice(0, i), text.slice(i)), want, `split at ${i}`);
  }
  assert.deepEqual(parse(...text), want, 'one character at a time');
}

const ev = (data, { type = 'message', id = '', lastEventId = id } = {}) => ({ type, data, id, lastEventId });

test('line endings: LF, CR and CRLF, mixed and split across chunks', () => {
  for (const nl of ['\n', '\r', '\r\n']) {
    everySplit(`data: a${nl}data: b${nl}${nl}data: c${nl}${nl}`, { events: [ev('a\nb'), ev('c')], retries: [] });
  }
  everySplit('data: a\r\ndata: b\rdata: c\n\r\n', { events: [ev('a\nb\nc')], retries: [] });
  // CR then LF in the next chunk is one line ending, not two (no empty event).
  assert.deepEqual(parse('data: x\r', '\n', 'data: y\r', '\n\r\n').events, [ev('x\ny')]);
  // CR CR is an empty line: dispatch.
  assert.deepEqual(parse('data: x\r\r').events, [ev('x')]);
});

test('a leading BOM is skipped, once', () => {
  everySplit('\uFEFFdata: a\n\n', { events: [ev('a')], retries: [] });
  assert.deepEqual(parse('\uFEFF', '\uFEFFdata: a\n\n').events, [], 'a second BOM makes the field name unknown');
  assert.deepEqual(parse('', '\uFEFFdata: a\n\n').events, [ev('a')], 'an empty first chunk is not the start');
});

test('fields: one leading space removed, no colon, comments, unknown fields', () => {
  everySplit(':comment\ndata:no space\ndata:  two spaces\ndata\nfoo: bar\n\n', {
    events: [ev('no space\n two spaces\n')],
    retries: [],
  });
  everySplit('event: update\ndata: {"a":1}\n\n', { events: [ev('{"a":1}', { type: 'update' })], retries: [] });
  // "data" with an empty value still makes an event (data "").
  assert.deepEqual(parse('data\n\n').events, [ev('')]);
  assert.deepEqual(parse('data:\n\n').events, [ev('')]);
  // No data: no event, and the type does not leak into the next one.
  assert.deepEqual(parse('event: x\n\ndata: y\n\n').events, [ev('y')]);
});

test('id: kept across events, NUL ignored, reset by an empty id', () => {
  const { events } = parse('id: 1\ndata: a\n\ndata: b\n\nid: 2\u0000x\ndata: c\n\nid\ndata: d\n\n');
  assert.deepEqual(events, [
    ev('a', { id: '1' }),
    ev('b', { id: '', lastEventId: '1' }), // no id field of its own
    ev('c', { id: '', lastEventId: '1' }), // an id with NUL is ignored
    ev('d', { id: '', lastEventId: '' }), // "id" alone resets it
  ]);
  // An id without data is not an event, but moves the last event id.
  assert.deepEqual(parse('id: 7\n\ndata: x\n\n').events, [ev('x', { id: '', lastEventId: '7' })]);
  // The event's own id with a value.
  assert.deepEqual(parse('id: urn:herald:a:1\nevent: t\ndata: x\n\n').events, [ev('x', { type: 't', id: 'urn:herald:a:1' })]);
});

test('retry: ASCII digits only', () => {
  assert.deepEqual(parse('retry: 1500\n\nretry: 15x\nretry: -1\nretry: 1.5\nretry:\nretry: 2000\n').retries, [1500, 2000]);
});

test('an event cut off by the end of the stream is not dispatched', () => {
  assert.deepEqual(parse('data: complete\n\ndata: cut').events, [ev('complete')]);
  assert.deepEqual(parse('data: complete\n\ndata: cut\n').events, [ev('complete')]);
});

test('multi-byte text and long lines in many chunks', () => {
  const long = 'x'.repeat(100000);
  const text = `data: ${long}\ndata: Καλημέρα 👋\n\n`;
  const chunks = [];
  for (let i = 0; i < text.length; i += 997) chunks.push(text.slice(i, i + 997));
  assert.deepEqual(parse(...chunks).events, [ev(`${long}\nΚαλημέρα 👋`)]);
});
