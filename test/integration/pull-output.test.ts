/**
 * What pull prints: progress bars with bytes, rate and ETA on a terminal (a real pty, through
 * util-linux's `script`), one line per layer when piped, nothing but errors with -q.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { sysctr, sysctrBin } from '../helpers/cli.js';
import { buildImage, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, ['script'], false)) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-output-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const layout = path.join(work, 'app');
// incompressible content, so the layer is big enough for the bar to move
const big = { path: 'blob', content: crypto.randomBytes(6 * 1024 * 1024) };
writeOciLayout(layout, [{ image: buildImage({ layers: [{ entries: [big] }, { entries: [{ path: 'small', content: 'x' }] }] }), ref: '1' }]);

t.test('piped: one line per layer and a summary', async (t) => {
  const r = await sysctr(['pull', `oci:${layout}:1`], { env: { SYSCTR_ROOT: path.join(work, 'r1') } });
  t.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.filter((l) => /^layer [0-9a-f]{12}: imported \(\d+ entries\)$/.test(l)).length, 2, 'a line per layer');
  t.match(lines[lines.length - 1], /^localhost\/app:1: pulled sha256:[0-9a-f]{64} \(2 of 2 layers fetched\)$/);
  t.notMatch(r.stdout + r.stderr, /\x1b\[/, 'no terminal escapes when piped');
  const again = await sysctr(['pull', `oci:${layout}:1`], { env: { SYSCTR_ROOT: path.join(work, 'r1') } });
  t.match(again.stdout, /^localhost\/app:1: image is up to date/m);
});

t.test('-q: nothing', async (t) => {
  const r = await sysctr(['pull', '-q', `oci:${layout}:1`], { env: { SYSCTR_ROOT: path.join(work, 'r2') } });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout + r.stderr, '');
});

t.test('on a terminal: progress bars with bytes, rate and ETA', async (t) => {
  const log = path.join(work, 'tty.log');
  execFileSync('script', ['-qfc', `env SYSCTR_ROOT=${path.join(work, 'r3')} ${process.execPath} ${sysctrBin} pull oci:${layout}:1`, log], { stdio: 'ignore' });
  const text = fs.readFileSync(log, 'utf8').replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
  t.match(text, /[0-9a-f]{12} \[[█░]+\] \d+% \| [\d.]+ [kM]?B\/[\d.]+ MB \| [\d.]+ [kM]?B\/s \| ETA \d+s/, 'a bar with bytes, rate and ETA');
  t.match(text, /100% \| 6\.\d+ MB\/6\.\d+ MB/, 'the big layer reaches 100%');
  t.match(text, /localhost\/app:1: pulled/);
});
