/**
 * The store owns its lock (lib/store/store.ts): views work only inside the read or write that
 * handed them out, a read view cannot change the store, and `images delete` / `prune` ask which
 * images are in use only once they hold the exclusive lock, so the answer cannot be stale. Against
 * a store on disk, with util-linux's flock standing in for another sysctr command.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteImages, pruneImages } from '../../lib/image/delete.js';
import { pullImage } from '../../lib/image/pull.js';
import { Store, type ReadView } from '../../lib/store/store.js';
import { buildImage, busyboxEntries, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (requirePrereqs(t, ['flock'], false)) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-store-lock-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const layout = path.join(work, 'layout');
  writeOciLayout(layout, [{ image: buildImage({ layers: [{ entries: [...busyboxEntries(['sh']), { path: 'etc/x', content: 'x\n' }] }] }), ref: '1' }]);
  const store = Store.open(path.join(work, 'store'));
  const { image } = await pullImage(store, `oci:${layout}:1`);
  // the shell takes the lock on its own descriptor and becomes sleep: killing it releases the lock
  const holdLock = (mode: '--shared' | '--exclusive') =>
    spawn('sh', ['-c', `exec 9>>"$0"; flock ${mode} 9; exec sleep 30`, path.join(work, 'store/lock')], { stdio: 'ignore' });
  const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

  t.test('a view works only while its read runs; a read view changes nothing', async (t) => {
    let kept: ReadView | undefined;
    const names = await store.read((view) => {
      kept = view;
      return view.images.list().map((i) => i.name);
    });
    t.same(names, [image.name]);
    t.throws(() => kept!.images.list(), /used after its read or write ended/);
    t.throws(() => kept!.objects.path('00'.repeat(32)), /used after its read or write ended/);
    await store.read((view) => {
      // the types give a read no removal; a cast past them is refused when it runs
      const sneaky = view.images as unknown as { remove(n: string[]): unknown };
      t.throws(() => sneaky.remove([image.name]), /read view was used to change the store/);
    });
    t.equal((await store.read((view) => view.images.list())).length, 1, 'the image is still there');
    await t.rejects(store.read(() => store.write(() => undefined)), /store.write called inside store.read/);
  });

  t.test('images delete asks who uses the image only once it holds the lock', async (t) => {
    const reader = holdLock('--shared'); // another command's read, e.g. an install checking out
    await sleep(300);
    let askedAt = 0;
    const started = Date.now();
    const del = deleteImages(store, [image.name], {
      inUse: () => {
        askedAt = Date.now();
        return new Map([[image.id, ['web.0']]]);
      },
    });
    await sleep(800);
    t.equal(askedAt, 0, 'not asked while the reader holds the lock');
    reader.kill('SIGKILL');
    await t.rejects(del, { message: `image ${image.name} is used by web.0` }, 'the answer given inside the write decides');
    const waited = askedAt - started;
    t.ok(waited >= 800 && waited < 10_000, `asked once the reader left (${waited} ms)`);
    t.equal((await store.read((view) => view.images.list())).length, 1, 'nothing removed');
  });

  t.test('prune waits for a read, then removes what nobody uses', async (t) => {
    const forced = await deleteImages(store, [image.name], { force: true, inUse: () => new Map([[image.id, ['web.0']]]) });
    t.same(forced.kept, [image.id], 'kept unnamed while in use');
    const reader = holdLock('--shared');
    await sleep(300);
    let asked = false;
    const prune = pruneImages(store, () => {
      asked = true;
      return new Map();
    });
    await sleep(800);
    t.notOk(asked, 'prune has not started while the reader holds the lock');
    reader.kill('SIGKILL');
    const r = await prune;
    t.equal(r.images, 1, 'the unnamed image nobody uses any more is removed');
    t.ok(r.objects > 0, 'with its objects');
    t.same(await store.read((view) => [view.images.list(), view.layers.list()]), [[], []]);
  });
}
