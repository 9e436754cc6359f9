/**
 * Decompression bombs and forged zstd frames, pulled through the CLI with its peak memory measured
 * (GNU time's maximum resident set size): a small zstd layer that inflates to hundreds of MiB of
 * zeros imports with bounded memory; a frame that asks for a 1.9 GiB window is refused with a clear
 * error before anything is allocated for it.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { sysctrBin } from '../helpers/cli.js';
import { buildImage, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, ['zstd', '/usr/bin/time'], false)) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-bombs-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

/** `sysctr pull` under GNU time: exit code, stderr, peak RSS in MiB */
async function pullMeasured(source: string, root: string) {
  const r = await execa('/usr/bin/time', ['-f', 'MAXRSS %M', process.execPath, sysctrBin, 'pull', '-q', source], { reject: false, env: { SYSCTR_ROOT: root } });
  const m = /MAXRSS (\d+)/.exec(String(r.stderr));
  return { exitCode: r.exitCode, stderr: String(r.stderr).replace(/MAXRSS \d+\n?/, ''), rssMiB: m ? Number(m[1]) / 1024 : NaN };
}

t.test('a zstd layer of 384 MiB of zeros (a few KB on the wire) imports with bounded memory', async (t) => {
  const image = buildImage({ layers: [{ entries: [{ path: 'zeros', content: Buffer.alloc(384 << 20) }], compression: 'zstd' }] });
  t.ok(image.layers[0].size < 200_000, `the layer is ${image.layers[0].size} bytes on the wire`);
  const layout = path.join(work, 'zeros');
  writeOciLayout(layout, [{ image, ref: 'v1' }]);
  const root = path.join(work, 'root-zeros');
  const r = await pullMeasured(`oci:${layout}:v1`, root);
  t.equal(r.exitCode, 0, r.stderr);
  t.ok(r.rssMiB < 250, `peak RSS ${r.rssMiB.toFixed(0)} MiB (< 250)`);
  const out = path.join(work, 'co-zeros');
  execFileSync(process.execPath, [sysctrBin, 'checkout', 'zeros:v1', out], { env: { SYSCTR_ROOT: root } });
  t.equal(fs.statSync(path.join(out, 'zeros')).size, 384 << 20, 'the file has its full size');
});

t.test('a zstd frame asking for a 1.9 GiB window is refused, cheaply', async (t) => {
  // the layer as a builder streaming it writes it (zstd from a pipe: the frame header carries a
  // window size), then the header's window descriptor forged: window log 30, mantissa 7
  const forge = (blob: Buffer) => {
    t.equal(blob.readUInt32LE(0), 0xfd2fb528, 'zstd magic');
    t.equal(blob[4] & 0x20, 0, 'not a single-segment frame: a window descriptor follows');
    blob[5] = (20 << 3) | 7;
    return blob;
  };
  const image = buildImage({ layers: [{ entries: [{ path: 'hello', content: 'hello\n' }], compression: 'zstd', rewrite: forge }] });
  const layout = path.join(work, 'window');
  writeOciLayout(layout, [{ image, ref: 'v1' }]);
  const root = path.join(work, 'root-window');
  const r = await pullMeasured(`oci:${layout}:v1`, root);
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, /zstd frame needs a 1920 MiB window to decode, more than the 128 MiB allowed; refused/);
  t.notMatch(r.stderr, /internal error/);
  t.ok(r.rssMiB < 250, `peak RSS ${r.rssMiB.toFixed(0)} MiB`);
  const list = execFileSync(process.execPath, [sysctrBin, 'images', 'list', '-q'], { env: { SYSCTR_ROOT: root }, encoding: 'utf8' });
  t.equal(list.trim(), '', 'no image was stored');
});
