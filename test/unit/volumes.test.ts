/**
 * Volumes, pure logic (docs/volumes.md): what a manifest and an image config declare, where each
 * volume lives, the mounts added to config.json, VOLUME_* values, the owner of a new data volume,
 * the lint rules, and sysctr's tar writer read back by its tar reader.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderDeployment, type RenderInput } from '../../lib/deploy/render.js';
import { declaredVolumes, processOwner, volumeValues, withVolumeMounts } from '../../lib/deploy/volumes.js';
import { SysctrError } from '../../lib/errors.js';
import { TarReader, type TarEntryHeader } from '../../lib/layer/tar-reader.js';
import { TarWriter } from '../../lib/layer/tar-writer.js';
import { lint } from '../../lib/lint/index.js';

const manifest = { volumes: { data: { type: 'data', mount: '/data' }, web: { type: 'assets', mount: '/assets/' }, 'tmp-cache': { type: 'data', mount: '/cache', snapshot: false } } };
const base = { stateRoot: '/var/lib/s', container: 'app', rootfs: '/var/lib/s/app.1/rootfs' };

t.test('declared volumes: host paths, variables, snapshot opt-out', async (t) => {
  const v = declaredVolumes({ ...base, manifest, defaultConfig: false });
  t.same(v.map((x) => [x.name, x.type, x.mount, x.hostPath, x.variable, x.snapshot]), [
    ['data', 'data', '/data', '/var/lib/s/volumes/app/data', 'VOLUME_DATA', true],
    ['web', 'assets', '/assets', '/var/lib/s/app.1/rootfs/exports/assets/web', 'VOLUME_WEB', false],
    ['tmp-cache', 'data', '/cache', '/var/lib/s/volumes/app/tmp-cache', 'VOLUME_TMP_CACHE', false],
  ]);
});

t.test("an image config's Volumes: data volumes under the default config only", async (t) => {
  const image = { rootfs: { type: 'layers', diff_ids: [] }, config: { Volumes: { '/var/lib/db': {}, '/data': {} } } };
  const withDefault = declaredVolumes({ ...base, manifest, image, defaultConfig: true });
  t.same(withDefault.map((x) => x.name), ['data', 'web', 'tmp-cache', 'var-lib-db'], '/data is the manifest\'s already');
  t.equal(withDefault[3].from, 'image-config');
  t.same(declaredVolumes({ ...base, manifest: {}, image, defaultConfig: false }), [], 'a template says its own mounts');
});

t.test('clashing and reserved mounts are refused', async (t) => {
  t.throws(() => declaredVolumes({ ...base, manifest: { volumes: { a: { type: 'data', mount: '/x' }, b: { type: 'data', mount: '/x/' } } }, defaultConfig: false }), /volumes a and b clash/);
  t.throws(() => declaredVolumes({ ...base, manifest: { volumes: { a: { type: 'data', mount: '/proc/x' } } }, defaultConfig: false }), /over \/proc/);
  t.throws(() => declaredVolumes({ ...base, manifest: { volumes: { 'a-b': { type: 'data', mount: '/x' }, a_b: { type: 'data', mount: '/y' } } }, defaultConfig: false }), /VOLUME_A_B/);
});

t.test('VOLUME_* are forced: a --set of one is a usage error', async (t) => {
  const v = declaredVolumes({ ...base, manifest, defaultConfig: false });
  t.same(volumeValues(v, {}).VOLUME_DATA, '/var/lib/s/volumes/app/data');
  const err = t.throws(() => volumeValues(v, { VOLUME_DATA: '/elsewhere' })) as SysctrError;
  t.equal(err.code, 2);
  t.match(err.message, /VOLUME_DATA is the host path of the volume data/);
});

t.test('mounts: added for each volume a config does not mount itself; data rw, assets ro', async (t) => {
  const v = declaredVolumes({ ...base, manifest, defaultConfig: false });
  const config = JSON.stringify({ mounts: [{ destination: '/proc', type: 'proc' }, { destination: '/cache/', type: 'bind', source: '/own', options: ['ro'] }] });
  const out = JSON.parse(withVolumeMounts(config, v)) as { mounts: Array<{ destination: string; source?: string; options?: string[] }> };
  t.same(out.mounts.map((m) => [m.destination, m.source, m.options?.[1]]), [
    ['/proc', undefined, undefined],
    ['/cache/', '/own', undefined],
    ['/data', '/var/lib/s/volumes/app/data', 'rw'],
    ['/assets', '/var/lib/s/app.1/rootfs/exports/assets/web', 'ro'],
  ]);
  t.equal(withVolumeMounts(config, []), config, 'no volumes: the text as rendered');
});

t.test('the owner of a new data volume: the process user, through the user namespace maps', async (t) => {
  t.same(processOwner(JSON.stringify({ process: { user: { uid: 10000, gid: 10001 } } }), 0, 0), { uid: 10000, gid: 10001 });
  const mapped = { process: { user: { uid: 5, gid: 0 } }, linux: { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }] } };
  t.same(processOwner(JSON.stringify(mapped), 0, 0), { uid: 100005, gid: 200000 });
  t.same(processOwner(JSON.stringify({ process: { user: { uid: 0, gid: 0 } } }), 1000, 1000), { uid: 1000, gid: 1000 }, 'rootless: the user itself');
});

t.test('render: the default config gets the mounts; templates can name $VOLUME_DATA', async (t) => {
  const exports: RenderInput['exports'] = {
    'manifest.json': Buffer.from(JSON.stringify(manifest)),
    'tmpfiles.template': Buffer.from('d $VOLUME_DATA/cache 0755 - - -\n'),
  };
  const r = renderDeployment({ name: 'app', destdir: '/var/lib/s/app.0', exports, set: {}, runtime: '/usr/bin/runc', user: false, hostUid: 0, hostGid: 0 });
  const cfg = JSON.parse(r.configJson) as { mounts: Array<{ destination: string; source: string }> };
  t.same(cfg.mounts.filter((m) => m.destination === '/data').map((m) => m.source), ['/var/lib/s/volumes/app/data']);
  t.equal(r.tmpfiles, 'd /var/lib/s/volumes/app/data/cache 0755 - - -\n');
  t.same(r.volumes.map((v) => v.name), ['data', 'web', 'tmp-cache']);
  const bad = { ...exports, 'manifest.json': Buffer.from('{"volumes": {"x": {"type": "disk", "mount": "/x"}}}') };
  t.throws(() => renderDeployment({ name: 'app', destdir: '/var/lib/s/app.0', exports: bad, set: {}, runtime: '/usr/bin/runc', user: false, hostUid: 0, hostGid: 0 }), /manifest\.json:1:\d+: volumes\.x\.type must be one of "data", "assets"/);
});

t.test('lint: an assets volume without its files, clashing and reserved mounts, $VOLUME_* known', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vol-lint-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ volumes: { web: { type: 'assets', mount: '/a' }, data: { type: 'data', mount: '/a' }, sys: { type: 'data', mount: '/sys/x' } } }, null, 2));
  fs.writeFileSync(path.join(dir, 'tmpfiles.template'), 'd $VOLUME_DATA/x 0755 - - -\n');
  const { findings } = await lint([dir], { noSystemd: true });
  const got = findings.map((f) => `${f.rule}:${f.line}`).sort();
  t.same(got, ['volume-assets-missing:3', 'volume-mount:11', 'volume-mount:7'], 'at each volume\'s name');
  fs.mkdirSync(path.join(dir, 'assets/web'), { recursive: true });
  const again = await lint([dir], { noSystemd: true });
  t.notOk(again.findings.some((f) => f.rule === 'volume-assets-missing'), 'the files are there');
  t.notOk(again.findings.some((f) => f.rule === 'template-undefined-variable'), '$VOLUME_DATA has a value');
});

t.test("tar writer: read back by sysctr's tar reader (long names through PAX, links, data)", async (t) => {
  const chunks: Buffer[] = [];
  const w = new TarWriter((b) => void chunks.push(Buffer.from(b)));
  const long = `volumes/data/${'d'.repeat(120)}/${'f'.repeat(90)}`;
  const body = Buffer.alloc(1000, 7);
  await w.entry({ name: 'volumes/data', type: 'dir', mode: 0o750, uid: 10000, gid: 10000, mtime: 1000 });
  await w.entry({ name: long, type: 'file', mode: 0o640, uid: 10000, gid: 10000, mtime: 2000, size: body.length });
  await w.data(body.subarray(0, 300));
  await w.data(body.subarray(300));
  await w.entry({ name: 'volumes/data/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, linkname: `../${'x'.repeat(150)}` });
  await w.entry({ name: 'volumes/data/hard', type: 'hardlink', mode: 0o640, uid: 3_000_000, gid: 0, mtime: 0, linkname: long });
  await w.end();
  const seen: Array<TarEntryHeader & { bytes?: number }> = [];
  const r = new TarReader((h) => {
    const e: TarEntryHeader & { bytes?: number } = { ...h };
    seen.push(e);
    return h.type === 'file' ? { data: (b) => void (e.bytes = (e.bytes ?? 0) + b.length), end: () => undefined } : undefined;
  });
  r.write(Buffer.concat(chunks));
  r.end();
  t.same(seen.map((e) => [e.name, e.type, e.mode, e.uid, e.mtime]), [
    ['volumes/data/', 'dir', 0o750, 10000, 1000],
    [long, 'file', 0o640, 10000, 2000],
    ['volumes/data/link', 'symlink', 0o777, 0, 0],
    ['volumes/data/hard', 'hardlink', 0o640, 3_000_000, 0],
  ]);
  t.equal(seen[1].bytes, 1000);
  t.equal(seen[2].linkname, `../${'x'.repeat(150)}`);
  t.equal(seen[3].linkname, long);
  t.equal(Buffer.concat(chunks).length % 512, 0);
  await t.rejects(async () => {
    const w2 = new TarWriter(() => undefined);
    await w2.entry({ name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 10 });
    await w2.end();
  }, /10 bytes of the last entry's data are missing/);
});
