/**
 * registries.conf mirrors against real registries on loopback: Debian's docker-registry as the
 * upstream (behind a counting proxy, so that what the mirror fetched shows), a second one in
 * pull-through `proxy:` mode as the mirror. Pulls go through the mirror and keep the original
 * name; a mirror that is down falls back to the primary; a digest-only mirror is skipped for a
 * tag; a blocked registry is refused with nothing stored; the signature policy judges the
 * original reference.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { sysctr, projectDir } from '../helpers/cli.js';
import { buildImageLayout, freePort, pushLayout, registryTestsCanRun, startRegistry, tempDir, type Registry } from '../helpers/registry.js';
import { startProxy, type Proxy } from '../helpers/registry-proxy.js';

if (await registryTestsCanRun(t)) {
  await execa('npx', ['tsc', '-p', '.'], { cwd: projectDir });
  const work = tempDir('sysctr-mirror-');
  const upstream = await startRegistry();
  const counter: Proxy = await startProxy({ target: upstream.port });
  const stops: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    for (const s of stops) await s();
    await counter.stop();
    await upstream.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const img = await buildImageLayout(path.join(work, 'layout'), 'v1', {
    layers: [{ files: { 'etc/os-release': 'ID=mirrortest\n' } }, { files: { 'opt/data': 'm'.repeat(30000) } }],
  });
  await pushLayout(path.join(work, 'layout'), 'v1', `${upstream.host}/mirrortest/app:v1`);
  const wanted = `${upstream.host}/mirrortest/app:v1`;

  async function startMirror(): Promise<Registry> {
    const m = await startRegistry({ proxyRemoteUrl: `http://${counter.host}` });
    stops.push(() => m.stop());
    return m;
  }
  function writeConf(name: string, mirrorLocation: string, extra = ''): string {
    const f = path.join(work, `${name}.conf`);
    fs.writeFileSync(f, `[[registry]]\nprefix = "${upstream.host}"\nlocation = "${upstream.host}"\ninsecure = true\n${extra}[[registry.mirror]]\nlocation = "${mirrorLocation}"\ninsecure = true\n`);
    return f;
  }
  /** blobs the mirror stored: distribution keeps them at blobs/sha256/XX/HEX/data */
  function mirrorHas(m: Registry, digest: string): boolean {
    const hex = digest.slice(7);
    return fs.existsSync(path.join(m.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'));
  }
  async function waitFor(f: () => boolean): Promise<boolean> {
    // the pull-through cache writes what it served while streaming it; the file lands just after
    for (let i = 0; i < 50 && !f(); i++) await new Promise((r) => setTimeout(r, 100));
    return f();
  }
  async function images(root: string): Promise<{ name: string; id: string }[]> {
    const r = await sysctr(['--root', root, 'images', 'list', '--json']);
    return JSON.parse(r.stdout || '[]') as { name: string; id: string }[];
  }
  const upstreamBlobGets = () => counter.requests.filter((r) => r.method === 'GET' && r.url.includes('/blobs/')).length;

  t.test('a pull goes through the mirror, says so, and records the original name', async (t) => {
    const mirror = await startMirror();
    const conf = writeConf('through', mirror.host);
    const root = path.join(work, 'root-through');
    const before = upstreamBlobGets();
    const r = await sysctr(['--root', root, '--registries-conf', conf, 'pull', wanted]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, `${wanted}: served by mirror ${mirror.host}/mirrortest/app\n`);
    t.same((await images(root)).map((i) => [i.name, i.id]), [[wanted, img.configDigest]], 'the image keeps the upstream name');
    for (const l of img.layers) t.ok(await waitFor(() => mirrorHas(mirror, l.digest)), `layer ${l.digest} is in the mirror's storage`);
    t.ok(upstreamBlobGets() > before, 'the upstream served the blobs, to the mirror');
  });

  t.test('a mirror that is down: the primary serves the pull', async (t) => {
    const conf = writeConf('down', `127.0.0.1:${await freePort()}`);
    const root = path.join(work, 'root-down');
    const r = await sysctr(['--root', root, '--registries-conf', conf, 'pull', wanted, '--timeout', '5']);
    t.equal(r.exitCode, 0, r.stderr);
    t.notMatch(r.stdout, /served by mirror/);
    t.same((await images(root)).map((i) => i.name), [wanted]);
  });

  t.test('digest-only: a tag pull skips the mirror, a digest pull uses it', async (t) => {
    const mirror = await startMirror();
    const conf = path.join(work, 'digest-only.conf');
    fs.writeFileSync(conf, `[[registry]]\nlocation = "${upstream.host}"\ninsecure = true\n[[registry.mirror]]\nlocation = "${mirror.host}"\ninsecure = true\npull-from-mirror = "digest-only"\n`);
    const root = path.join(work, 'root-digest');
    let r = await sysctr(['--root', root, '--registries-conf', conf, 'pull', wanted]);
    t.equal(r.exitCode, 0, r.stderr);
    t.notMatch(r.stdout, /served by mirror/);
    t.notOk(mirrorHas(mirror, img.layers[1].digest), 'the mirror was not asked');
    const byDigest = `${upstream.host}/mirrortest/app@${img.manifestDigest}`;
    r = await sysctr(['--root', path.join(work, 'root-digest2'), '--registries-conf', conf, 'pull', byDigest]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, `served by mirror ${mirror.host}/mirrortest/app`);
  });

  t.test('blocked = true is refused, naming the file, and nothing is stored', async (t) => {
    const conf = path.join(work, 'blocked.conf');
    fs.writeFileSync(conf, `[[registry]]\nprefix = "${upstream.host}/mirrortest"\nblocked = true\n`);
    const root = path.join(work, 'root-blocked');
    const before = counter.requests.length;
    const r = await sysctr(['--root', root, '--registries-conf', conf, 'pull', wanted]);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, `pulling from this registry is blocked (${conf}: registry[0], prefix "${upstream.host}/mirrortest", blocked = true)`);
    t.same(await images(root), []);
    t.equal(counter.requests.length, before, 'no request was made');
  });

  t.test('a bad registries.conf fails the pull with its file and key, exit 1', async (t) => {
    const conf = path.join(work, 'bad.conf');
    fs.writeFileSync(conf, `[[registry]]\nlocation = "${upstream.host}"\n[[registry.mirror]]\nlocation = "x.example"\npull-from-mirror = "never"\n`);
    const r = await sysctr(['--root', path.join(work, 'root-bad'), '--registries-conf', conf, 'pull', wanted]);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, `${conf}: registry[0].mirror[0].pull-from-mirror: "never": write one of all, digest-only, tag-only`);
  });

  t.test('a short name: one unqualified-search registry qualifies it, several are refused', async (t) => {
    const one = path.join(work, 'search-one.conf');
    fs.writeFileSync(one, `unqualified-search-registries = ["${upstream.host}"]\n[[registry]]\nlocation = "${upstream.host}"\ninsecure = true\n`);
    const root = path.join(work, 'root-short');
    let r = await sysctr(['--root', root, '--registries-conf', one, 'pull', 'mirrortest/app:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.same((await images(root)).map((i) => i.name), [wanted], 'recorded under the qualified name');
    const two = path.join(work, 'search-two.conf');
    fs.writeFileSync(two, `unqualified-search-registries = ["${upstream.host}", "quay.io"]\n`);
    r = await sysctr(['--root', path.join(work, 'root-short2'), '--registries-conf', two, 'pull', 'mirrortest/app:v1']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, `"mirrortest/app:v1" is a short name and registries.conf lists several unqualified-search-registries: ${upstream.host}, quay.io`);
    t.match(r.stderr, `hint: write the registry, e.g. ${upstream.host}/mirrortest/app:v1`);
  });

  t.test('a mirror that serves the manifest but not the blobs (404): the blobs come from the primary', async (t) => {
    const mirror = await startMirror();
    const broken: Proxy = await startProxy({ target: mirror.port, blobFault: () => ({ status: 404 }) });
    stops.push(() => broken.stop());
    const conf = writeConf('noblobs', broken.host);
    const root = path.join(work, 'root-noblobs');
    const r = await sysctr(['--root', root, '--registries-conf', conf, 'pull', wanted]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, `served by mirror ${broken.host}/mirrortest/app`, 'the manifest came from the mirror');
    const refused = broken.requests.filter((q) => q.method === 'GET' && q.url.includes('/blobs/')).length;
    t.ok(refused >= 1 + img.layers.length, `the mirror was asked for the config and each layer (${refused} blob GETs, all 404)`);
    t.same((await images(root)).map((i) => [i.name, i.id]), [[wanted, img.configDigest]], 'and the image is whole');
  });

  t.test('the signature policy is asked about the original reference, not the mirror', async (t) => {
    const mirror = await startMirror();
    const conf = writeConf('policy', mirror.host);
    const policy = (accept: string, reject: string) => {
      const f = path.join(work, `policy-${accept === upstream.host ? 'up' : 'mirror'}.json`);
      fs.writeFileSync(f, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [accept]: [{ type: 'insecureAcceptAnything' }], [reject]: [{ type: 'reject' }] } } }));
      return f;
    };
    let r = await sysctr(['--root', path.join(work, 'root-pol1'), '--registries-conf', conf, '--signature-policy', policy(upstream.host, mirror.host), 'pull', wanted]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, 'served by mirror', 'accepted as the upstream image although the mirror served it');
    const root = path.join(work, 'root-pol2');
    r = await sysctr(['--root', root, '--registries-conf', conf, '--signature-policy', policy(mirror.host, upstream.host), 'pull', wanted]);
    t.equal(r.exitCode, 1, 'a policy that rejects the upstream refuses it, whichever mirror serves it');
    t.match(r.stderr, /reject/i);
    t.same(await images(root), []);
  });
}
