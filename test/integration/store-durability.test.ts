/**
 * Power cuts cannot be simulated here, so the order of the system calls that make a pull durable
 * is checked with strace: every object and layer is renamed into place, then one syncfs flushes
 * them all, then images.json (the only name that makes the image visible) is written to a temp
 * file, fsynced, renamed, and its directory fsynced. After a power cut images.json names the old
 * images or the new, never one whose content did not reach the disk.
 */
import t from 'tap';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sysctrBin } from '../helpers/cli.js';
import { buildImage, busyboxEntries, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, ['strace', 'busybox'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-durable-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

interface Call {
  pid: number;
  name: string;
  args: string;
}

/** strace -f output, one call a line (unfinished/resumed pairs joined) */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const pending = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    let rest = m[2];
    if (rest.endsWith('<unfinished ...>')) {
      pending.set(pid, rest.replace(/\s*<unfinished \.\.\.>$/, ''));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    if (resumed) {
      rest = (pending.get(pid) ?? '') + resumed[1];
      pending.delete(pid);
    }
    const c = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(rest);
    if (c && c[3] !== '-1') calls.push({ pid, name: c[1], args: c[2] });
  }
  return calls;
}

t.test('pull: objects and layers, then syncfs, then images.json by fsync -> rename -> fsync of the directory', async (t) => {
  const layout = path.join(work, 'layout');
  writeOciLayout(layout, [{ ref: 'v1', image: buildImage({ layers: [{ entries: busyboxEntries() }, { entries: [{ path: 'etc/motd', content: 'durable\n' }] }] }) }]);
  const root = path.join(work, 'root');
  const trace = path.join(work, 'trace');
  const r = await execa('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync,syncfs,rename,renameat,renameat2', '-o', trace, process.execPath, sysctrBin, 'pull', '-q', `oci:${layout}:v1`], {
    env: { SYSCTR_ROOT: root },
    reject: false,
  });
  t.equal(r.exitCode, 0, r.stderr);
  const calls = parseTrace(fs.readFileSync(trace, 'utf8'));
  const renames = calls.filter((c) => c.name.startsWith('rename'));
  const idx = (pred: (c: Call) => boolean) => calls.findIndex(pred);
  const lastIdx = (pred: (c: Call) => boolean) => calls.map(pred).lastIndexOf(true);
  const syncfs = idx((c) => c.name === 'syncfs');
  const imagesRename = idx((c) => c.name.startsWith('rename') && /\/store\/images\.json"/.test(c.args));
  t.ok(syncfs >= 0, 'one syncfs');
  t.equal(calls.filter((c) => c.name === 'syncfs').length, 1, 'exactly one syncfs for the pull');
  t.ok(imagesRename > syncfs, 'images.json is renamed into place after the syncfs');
  const lastObject = lastIdx((c) => c.name.startsWith('rename') && /\/store\/objects\//.test(c.args));
  const lastLayer = lastIdx((c) => c.name.startsWith('rename') && /\/store\/layers\//.test(c.args));
  const lastBlob = lastIdx((c) => c.name.startsWith('rename') && /\/store\/blobs\//.test(c.args));
  t.ok(lastObject >= 0 && lastObject < syncfs, 'every object is in place before the syncfs');
  t.ok(lastLayer >= 0 && lastLayer < syncfs, 'every layer listing is in place before the syncfs');
  t.ok(lastBlob >= 0 && lastBlob < syncfs, 'manifest and config are in place before the syncfs');
  t.ok(calls.slice(syncfs, imagesRename).some((c) => c.name === 'fsync'), 'the new images.json is fsynced before its rename');
  t.ok(calls.slice(imagesRename + 1).some((c) => c.name === 'fsync'), 'its directory is fsynced after the rename');
  t.ok(renames.filter((c) => /\/store\/objects\//.test(c.args)).length >= 2, 'both layers\' files became objects');
});
