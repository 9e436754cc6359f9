/**
 * `sysctr pull docker://...` end to end through the built CLI against a real registry on
 * loopback, with a counting proxy in front: layers already in the store are not transferred,
 * a re-pull is "up to date", --platform picks from an index, a corrupted layer is refused.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { sysctr } from '../helpers/cli.js';
import { buildImageLayout, buildIndexLayout, pushLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';
import { startProxy, type Proxy } from '../helpers/registry-proxy.js';

if (await registryTestsCanRun(t)) {
  const work = tempDir();
  const reg = await startRegistry();
  const proxy: Proxy = await startProxy({ target: reg.port });
  t.teardown(async () => {
    await proxy.stop();
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const shared1 = { files: { 'etc/os-release': 'ID=test\n' } };
  const shared2 = { files: { 'usr/bin/run.sh': '#!/bin/sh\necho hi\n', 'usr/share/data': 'd'.repeat(20000) } };
  const a = await buildImageLayout(path.join(work, 'a'), 'a', { layers: [shared1, shared2, { files: { 'opt/a': 'only in a\n' } }] });
  const b = await buildImageLayout(path.join(work, 'b'), 'b', { layers: [shared1, shared2, { files: { 'opt/b': 'only in b\n'.repeat(100) } }] });
  await pushLayout(path.join(work, 'a'), 'a', `${reg.host}/app/svc:a`);
  await pushLayout(path.join(work, 'b'), 'b', `${reg.host}/app/svc:b`);
  const root = path.join(work, 'root');

  /** the store's images, as `images list --json` prints them */
  async function images(r: string): Promise<{ name: string; id: string; platform: string }[]> {
    const res = await sysctr(['--root', r, 'images', 'list', '--json']);
    return JSON.parse(res.stdout || '[]') as { name: string; id: string; platform: string }[];
  }

  const blobGets = () => proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('/blobs/'));

  t.test('pull, then a second image sharing 2 of 3 layers transfers only the third', async (t) => {
    let r = await sysctr(['--root', root, 'pull', `docker://${proxy.host}/app/svc:a`, '--tls-verify=false']);
    t.equal(r.exitCode, 0, r.stderr);
    t.same((await images(root)).map((i) => [i.name, i.id]), [[`${proxy.host}/app/svc:a`, a.configDigest]], 'recorded under its name');
    t.equal(blobGets().length, 4, 'config and three layers');

    const before = blobGets().length;
    const bytesBefore = proxy.blobBytes;
    r = await sysctr(['--root', root, 'pull', `docker://${proxy.host}/app/svc:b`, '--tls-verify=false']);
    t.equal(r.exitCode, 0, r.stderr);
    const gets = blobGets().slice(before);
    t.same(gets.map((g) => g.url.split('/blobs/')[1]).sort(), [b.configDigest, b.layers[2].digest].sort(), 'only the config and the new layer');
    const configSize = fs.statSync(path.join(work, 'b/blobs/sha256', b.configDigest.slice(7))).size;
    t.equal(proxy.blobBytes - bytesBefore, b.layers[2].size + configSize, 'bytes transferred: the new layer and the config');
  });

  t.test('a re-pull is up to date and transfers no layer', async (t) => {
    const before = blobGets().length;
    const r = await sysctr(['--root', root, 'pull', `docker://${proxy.host}/app/svc:a`, '--tls-verify=false']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, 'image is up to date');
    const layerGets = blobGets()
      .slice(before)
      .filter((g) => a.layers.some((l) => g.url.endsWith(l.digest)));
    t.equal(layerGets.length, 0);
  });

  t.test('without --tls-verify=false: one line with the hint', async (t) => {
    const r = await sysctr(['--root', root, 'pull', `docker://${proxy.host}/app/svc:a`]);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, `sysctr: cannot reach registry ${proxy.host} for ${proxy.host}/app/svc:a`);
    t.match(r.stderr, /hint: .*--tls-verify=false/);
    t.notMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  t.test('a tag that does not exist: the registry text, exit 1', async (t) => {
    const r = await sysctr(['--root', root, 'pull', `docker://${proxy.host}/app/svc:nope`, '--tls-verify=false']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, `sysctr: ${proxy.host}/app/svc:nope: not found (manifest unknown) [HTTP 404]`);
  });

  t.test('--platform picks each entry of a multi-platform index', async (t) => {
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
      { os: 'linux', architecture: 'arm', variant: 'v5' },
    ];
    const multi = await buildIndexLayout(
      path.join(work, 'multi'),
      'latest',
      platforms.map((p) => ({ platform: p, layers: [{ files: { 'etc/arch': `${p.architecture}${p.variant ?? ''}\n` } }] })),
    );
    await pushLayout(path.join(work, 'multi'), 'latest', `${reg.host}/practice/multi:latest`, { all: true });
    for (const [i, spec] of ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5'].entries()) {
      const mroot = path.join(work, `mroot${i}`);
      const r = await sysctr(['--root', mroot, 'pull', '--platform', spec, `docker://${reg.host}/practice/multi:latest`, '--tls-verify=false']);
      t.equal(r.exitCode, 0, `${spec}: ${r.stderr}`);
      const [img] = await images(mroot);
      t.equal(img?.id, multi.images[i].configDigest, `${spec}: the image of that platform`);
      t.equal(img?.platform, spec, `${spec}: recorded platform`);
    }
    const r = await sysctr(['--root', path.join(work, 'mroot-miss'), 'pull', '--platform', 'linux/s390x', `docker://${reg.host}/practice/multi:latest`, '--tls-verify=false']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /linux\/s390x/);
    t.match(r.stderr + r.stdout, /linux\/arm\/v5/, 'the platforms offered are listed');
  });

  t.test("Atomic's http: prefix and a bare reference", async (t) => {
    let r = await sysctr(['--root', path.join(work, 'hroot'), 'pull', `http:${reg.host}/app/svc:a`]);
    t.equal(r.exitCode, 0, r.stderr);
    t.same((await images(path.join(work, 'hroot'))).map((i) => i.name), [`${reg.host}/app/svc:a`]);
    r = await sysctr(['--root', path.join(work, 'broot'), 'pull', `${reg.host}/app/svc:b`, '--tls-verify=false']);
    t.equal(r.exitCode, 0, r.stderr);
    t.same((await images(path.join(work, 'broot'))).map((i) => i.id), [b.configDigest]);
    r = await sysctr(['--root', path.join(work, 'broot'), 'pull', `docker://${reg.host}/App/svc:b`, '--tls-verify=false']);
    t.equal(r.exitCode, 1, 'a malformed reference fails the pull (exit 1)');
    t.match(r.stderr, `invalid image reference "${reg.host}/App/svc:b"`);
    for (const bad of ['a//b', ':tag', 'UPPER/case']) {
      const m = await sysctr(['--root', path.join(work, 'broot'), 'pull', bad]);
      t.equal(m.exitCode, 1, `${bad}: exit 1`);
      t.match(m.stderr, `invalid image reference "${bad}"`);
      t.equal(m.stderr.split('\n').filter((l) => l.startsWith('sysctr:')).length, 1, `${bad}: one line`);
    }
  });

  t.test('--creds and --authfile against htpasswd and token registries', async (t) => {
    const basic = await startRegistry({ basic: { user: 'u', pass: 'p' } });
    const token = await startRegistry({ token: { user: 'u', pass: 'p' } });
    t.teardown(async () => {
      await basic.stop();
      await token.stop();
    });
    for (const r of [basic, token]) {
      await pushLayout(path.join(work, 'a'), 'a', `${r.host}/priv/svc:a`, { creds: 'u:p' });
      const src = `docker://${r.host}/priv/svc:a`;
      const kind = r === basic ? 'basic' : 'token';
      const rootDir = path.join(work, `auth-${kind}`);
      let res = await sysctr(['--root', rootDir, 'pull', src, '--tls-verify=false'], { env: { REGISTRY_AUTH_FILE: path.join(work, 'none.json') } });
      t.equal(res.exitCode, 1, `${kind}: no credentials`);
      t.match(res.stderr, /\[HTTP 401\]/);
      t.match(res.stderr, /hint: .*--creds/);
      res = await sysctr(['--root', rootDir, 'pull', src, '--tls-verify=false', '--creds', 'u:wrong']);
      t.equal(res.exitCode, 1, `${kind}: wrong password`);
      t.match(res.stderr, /unauthorized \((authentication required|bad user name or password)\) \[HTTP 401\]/);
      res = await sysctr(['--root', rootDir, 'pull', src, '--tls-verify=false', '--creds', 'u:p']);
      t.equal(res.exitCode, 0, `${kind}: --creds: ${res.stderr}`);
      const authFile = path.join(work, `auth-${kind}.json`);
      fs.writeFileSync(authFile, JSON.stringify({ auths: { [r.host]: { auth: Buffer.from('u:p').toString('base64') } } }));
      res = await sysctr(['--root', `${rootDir}-2`, 'pull', src, '--tls-verify=false', '--authfile', authFile]);
      t.equal(res.exitCode, 0, `${kind}: --authfile: ${res.stderr}`);
      t.same((await images(`${rootDir}-2`)).map((i) => i.id), [a.configDigest]);
    }
  });

  t.test('a corrupted layer is refused and nothing is recorded', async (t) => {
    const bad = await startProxy({ target: reg.port, blobFault: (_n, req) => (req.url.endsWith(a.layers[2].digest) ? { corruptAt: 10 } : undefined) });
    t.teardown(() => bad.stop());
    const croot = path.join(work, 'croot');
    const r = await sysctr(['--root', croot, 'pull', `docker://${bad.host}/app/svc:a`, '--tls-verify=false']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, a.layers[2].digest);
    const list = await sysctr(['--root', croot, 'images', 'list', '--json']);
    t.same(JSON.parse(list.stdout || '[]'), [], 'no image recorded');
  });
}
