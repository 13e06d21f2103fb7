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
  // This package's README, and Herald's when the package is in its repository.
  for (const path of ['README.md', '../../README.md']) {
    let readme;
    try {
      readme = readFileSync(new URL(path, dir), 'utf8');
    } catch (e) {
      if (path === 'README.md') throw e;
      continue;
    }
    const m = readme.match(/([\d,]+) bytes minified and gzipped/);
    assert.ok(m, `${path} states the size as "N bytes minified and gzipped"`);
    const stated = Number(m[1].replace(/,/g, ''));
    assert.ok(Math.abs(stated - size.gzipped) <= 64, `${path} says ${stated} bytes, herald.js is ${size.gzipped}: update it`);
  }
});
