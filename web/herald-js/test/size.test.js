// herald.js stays small: minified (esbuild) and gzipped, under 6 KB, and the
// README states the size it has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { transformSync } from 'esbuild';

const dir = new URL('../', import.meta.url);

export function measure() {
  const src = readFileSync(new URL('herald.js', dir), 'utf8');
  const { code } = transformSync(src, { minify: true, format: 'esm', target: 'es2020' });
  return { source: src.length, minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

test('minified and gzipped, herald.js is under 6 KB, as the README says', () => {
  const size = measure();
  assert.ok(size.gzipped < 6 * 1024, `${size.gzipped} bytes gzipped`);
  const readme = readFileSync(new URL('README.md', dir), 'utf8');
  const m = readme.match(/([\d,]+) bytes minified and gzipped/);
  assert.ok(m, 'the README states the size as "N bytes minified and gzipped"');
  const stated = Number(m[1].replace(/,/g, ''));
  assert.ok(Math.abs(stated - size.gzipped) <= 64, `the README says ${stated} bytes, herald.js is ${size.gzipped} (update the README)`);
});
