/**
 * Deep JSON: a manifest.json (or a rendered config.json) nested 20,000 levels deep crashed render
 * with "Maximum call stack size exceeded". Nesting is refused past a fixed depth, with a location.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonSyntaxError, MAX_JSON_DEPTH, parseJsonWithLocations } from '../../lib/template/json-locate.js';
import { sysctr } from '../helpers/cli.js';

const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);

t.test('nesting up to the limit parses; one level more is refused with its offset', async (t) => {
  t.same(parseJsonWithLocations(`{"a": ${nested(MAX_JSON_DEPTH - 1)}}`).locations.size, MAX_JSON_DEPTH);
  const err = (() => {
    try {
      parseJsonWithLocations(`{"a": ${nested(MAX_JSON_DEPTH)}}`);
    } catch (e) {
      return e;
    }
  })() as JsonSyntaxError;
  t.type(err, JsonSyntaxError);
  t.match(err.message, `nested more than ${MAX_JSON_DEPTH} levels deep; refused`);
  t.equal(err.offset, 6 + MAX_JSON_DEPTH - 1, 'the offset of the bracket past the limit');
  // siblings do not add up: depth is nesting, not count
  t.ok(parseJsonWithLocations(`[${Array(2000).fill(nested(100)).join(',')}]`));
});

t.test('render and lint of a manifest.json 20,000 levels deep: a clear error, no crash', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-deep-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'exports'));
  fs.writeFileSync(path.join(dir, 'exports/manifest.json'), `{"defaultValues": {}, "x": ${nested(20_000)}}`);
  const render = await sysctr(['render', dir]);
  t.equal(render.exitCode, 1, render.stderr);
  t.match(render.stderr, /manifest\.json:1:\d+: not valid JSON: nested more than 256 levels deep; refused/);
  t.notMatch(render.stderr, /Maximum call stack|internal error/);
  const lint = await sysctr(['lint', dir]);
  t.match(lint.stdout, /manifest\.json:1:\d+: error json-syntax manifest\.json is not valid JSON: nested more than 256 levels deep/);
  t.equal(lint.exitCode, 1, 'lint fails on it');
});
