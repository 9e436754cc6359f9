/**
 * When checkout cannot hardlink it copies: an object at the filesystem's link-count limit (ext4
 * allows 65,000 links; pushed there by linking it from a scratch dir), and a target directory on
 * another filesystem than the store (/dev/shm, a tmpfs).
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sysctr } from '../helpers/cli.js';
import { buildImage, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs, unmet } from '../helpers/prereq.js';

if (!requirePrereqs(t, [])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-emlink-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'root');
const run = (args: string[]) => sysctr(args, { env: { SYSCTR_ROOT: root } });

t.test('an object at the link-count limit is copied', async (t) => {
  writeOciLayout(path.join(work, 'img'), [{ image: buildImage({ layers: [{ entries: [{ path: 'popular', content: 'linked everywhere\n', mode: 0o640, uid: 7, gid: 8 }, { path: 'other', content: 'plain\n' }] }] }), ref: '1' }]);
  t.equal((await run(['pull', `oci:${path.join(work, 'img')}:1`])).exitCode, 0);
  const objects = path.join(root, 'store/objects');
  let object = '';
  for (const d of fs.readdirSync(objects)) for (const f of fs.readdirSync(path.join(objects, d))) {
    const p = path.join(objects, d, f);
    if (fs.readFileSync(p, 'utf8') === 'linked everywhere\n') object = p;
  }
  t.ok(object, 'found the object');
  const scratch = path.join(work, 'links');
  fs.mkdirSync(scratch);
  let limited = false;
  for (let i = 0; i < 70000; i++) {
    try {
      fs.linkSync(object, path.join(scratch, String(i)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EMLINK') throw err;
      limited = true;
      break;
    }
  }
  if (!limited) {
    t.skip('this filesystem allows more than 70,000 links; nothing to test here', () => {});
    return;
  }
  const co = path.join(work, 'co');
  const r = await run(['checkout', '--json', 'img:1', co]);
  t.equal(r.exitCode, 0, r.stderr);
  const stats = JSON.parse(r.stdout);
  t.equal(stats.copied, 1, 'one file copied');
  t.equal(stats.linked, 1, 'the other linked');
  const st = fs.statSync(path.join(co, 'popular'));
  t.equal(fs.readFileSync(path.join(co, 'popular'), 'utf8'), 'linked everywhere\n', 'same content');
  t.equal(st.nlink, 1, 'a copy of its own');
  t.equal(st.mode & 0o7777, 0o640, 'mode kept');
  t.same([st.uid, st.gid], [7, 8], 'owner kept');
  t.ok(fs.statSync(path.join(co, 'other')).nlink >= 2, 'other files still linked');
});

t.test('a target on another filesystem: every file copied, with metadata', async (t) => {
  const shm = '/dev/shm';
  if (!fs.existsSync(shm) || fs.statSync(shm).dev === fs.statSync(root).dev) {
    return unmet(t, 'no second filesystem at /dev/shm to check out into');
  }
  const co = fs.mkdtempSync(path.join(shm, 'sysctr-xdev-'));
  t.teardown(() => fs.rmSync(co, { recursive: true, force: true }));
  const r = await run(['checkout', 'img:1', co]);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /2 files \(0 hardlinked, 2 copied\).*another filesystem than the store/);
  const st = fs.statSync(path.join(co, 'popular'));
  t.equal(st.mode & 0o7777, 0o640);
  t.same([st.uid, st.gid], [7, 8]);
  t.equal(fs.readFileSync(path.join(co, 'other'), 'utf8'), 'plain\n');
});

t.test('images list --no-trunc shows whole ids', async (t) => {
  const r = await run(['images', 'list', '--no-trunc']);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /sha256:[0-9a-f]{64}/);
  const short = await run(['images', 'list']);
  t.notMatch(short.stdout, /sha256:[0-9a-f]{64}/);
  t.match(short.stdout, /\b[0-9a-f]{12}\b/);
});
