/**
 * A fleet, end to end: three systemd hosts booted with systemd-nspawn (test/helpers/fleet.ts), one
 * upstream registry (Debian's docker-registry) and one pull-through mirror in front of it, every
 * host with the same registries.conf (mirror first) and the same containers.d declaration (its own
 * PORT: the hosts share the host's network). `sysctr apply` installs, a second apply changes
 * nothing, a new version pushed under the same tag reaches every host by `sysctr auto-update`
 * while the upstream serves each blob no more often than the mirror alone needs, a second
 * auto-update fetches no blob, docs/fleet/playbook.yml applies a new declaration through Ansible
 * (second run changed=0, --check changes nothing), and a broken version (exits at once; fails its
 * health check) is rolled back everywhere.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { projectDir, sysctrBin } from '../helpers/cli.js';
import { requireRealSystemd, type Machine } from '../helpers/nspawn.js';
import { requirePrereqs, unmet } from '../helpers/prereq.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { freePort, pushLayout, tempDir } from '../helpers/registry.js';
import { blobGets, manifestRequests, startFleet } from '../helpers/fleet.js';

const HOSTS = 3;

/** ansible-core alone has no nsenter connection: Debian's full `ansible` package does */
async function nsenterConnection(): Promise<boolean> {
  // ansible-doc exits 0 for a plugin it does not know; its --json output is then {}
  const r = await execa('ansible-doc', ['-t', 'connection', '--json', 'community.docker.nsenter'], { reject: false });
  return /"community\.docker\.nsenter"/.test(String(r.stdout)) || unmet(t, 'ansible has no community.docker.nsenter connection (apt-get install ansible, or run scripts/setup.sh)');
}

if (requireRealSystemd(t) && requirePrereqs(t, ['docker-registry', 'skopeo', 'umoci', 'ansible-playbook', 'ansible-doc']) && (await nsenterConnection())) {
  const started = Date.now();
  const work = tempDir('sysctr-fleet-');
  const layout = path.join(work, 'layout');
  // v1 and v2 serve their version; v3 exits at once (fixtures/images/update-v*/README.md)
  for (const v of ['v1', 'v2', 'v3']) await buildImageWithUmoci(path.join(projectDir, `fixtures/images/update-${v}`), layout, v);
  // v4 serves, but its health check asks for a page it does not have: the update gate must fail it
  const v4 = path.join(work, 'src-v4');
  fs.cpSync(path.join(projectDir, 'fixtures/images/update-v2'), v4, { recursive: true });
  fs.writeFileSync(path.join(v4, 'rootfs/usr/share/web/version.txt'), 'v4\n');
  const manifest = JSON.parse(fs.readFileSync(path.join(v4, 'exports/manifest.json'), 'utf8')) as Record<string, unknown>;
  manifest.healthcheck = { cmd: 'wget -qO- http://127.0.0.1:$PORT/healthz', interval: '1s', timeout: '2s', startPeriod: '1s', retries: 2 };
  fs.writeFileSync(path.join(v4, 'exports/manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  await buildImageWithUmoci(v4, layout, 'v4');
  const fleet = await startFleet(HOSTS);
  t.teardown(async () => {
    await fleet.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  t.comment(`fleet of ${HOSTS} hosts and 2 registries up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const { hosts, upstream, mirror } = fleet;
  const ref = `${upstream.host}/fleet/greeting:stable`;
  const push = (v: string) => pushLayout(layout, v, ref);
  await push('v1');
  const ports = new Map<Machine, number>();
  for (const h of hosts) ports.set(h, await freePort());
  const NAME = 'fleet-greeting';
  const declaration = (h: Machine, message: string) =>
    JSON.stringify({ name: NAME, image: `docker://${ref}`, values: { PORT: String(ports.get(h)), MESSAGE: message }, autoUpdate: 'registry', now: true }, null, 2) + '\n';
  for (const h of hosts) {
    const r = await h.exec(['sh', '-c', `mkdir -p /etc/sysctr/containers.d && cat > /etc/sysctr/containers.d/${NAME}.json`], { input: declaration(h, 'hello fleet') });
    if (r.exitCode !== 0) throw new Error(r.stderr);
  }

  /** The page the service serves on the host: `version=vN message=... extra=... uuid=...`, polled until it matches. */
  const state = async (h: Machine, want: RegExp): Promise<string> => {
    let body = '';
    for (let i = 0; i < 60; i++) {
      const r = await h.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${ports.get(h)}/state.txt`]);
      body = r.exitCode === 0 ? r.stdout.trim() : '';
      if (want.test(body)) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    return body;
  };
  const json = (h: Machine, out: string) => {
    try {
      return JSON.parse(out) as { changed: boolean; containers: { name: string; [k: string]: unknown }[] };
    } catch {
      throw new Error(`${h.name}: not one JSON object: ${out}`);
    }
  };
  /**
   * The first host alone, then the others together, as in a fleet whose timers fire at random
   * times (RandomizedDelaySec). Debian's registry as a mirror does not join concurrent misses of
   * one blob: three hosts pulling at once from a cold mirror made the upstream serve a blob 3-4 times.
   */
  const onEach = async <T>(f: (h: Machine) => Promise<T>): Promise<T[]> => {
    const first = await f(hosts[0]);
    return [first, ...(await Promise.all(hosts.slice(1).map(f)))];
  };
  /** blob GETs while `f` ran, per digest, at the upstream and at the mirror */
  const blobGetsDuring = async (f: () => Promise<void>): Promise<{ up: Map<string, number>; mirrored: Map<string, number> }> => {
    const [fromUp, fromMirror] = [upstream.output().length, mirror.output().length];
    await f();
    // the mirror stores what it fetched in the background: let its last GETs land in the log
    await new Promise((res) => setTimeout(res, 500));
    return { up: blobGets(upstream.output().slice(fromUp)), mirrored: blobGets(mirror.output().slice(fromMirror)) };
  };
  const figures: string[] = [];
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const r = await f();
    figures.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  };
  t.teardown(() => t.comment(`figures: ${figures.join('; ')}`));

  t.test('apply on each host: installed, and every host answers with v1', async (t) => {
    let results: { exitCode: number; stdout: string; stderr: string }[] = [];
    const { up: gets, mirrored } = await blobGetsDuring(async () => {
      results = await timed(`apply x${HOSTS}`, () => onEach((h) => h.sysctr(['apply', '--json'])));
    });
    results.forEach((r, i) => {
      t.equal(r.exitCode, 0, `${hosts[i].name}: ${r.stderr}`);
      t.match(json(hosts[i], r.stdout), { changed: true, containers: [{ name: NAME, status: 'installed' }] });
    });
    for (const h of hosts) t.match(await state(h, /version=v1/), /^version=v1 message=hello fleet /, `${h.name} answers on ${ports.get(h)}`);
    for (const h of hosts) {
      const timer = await h.exec(['systemctl', 'is-active', 'sysctr-auto-update.timer']);
      t.equal(timer.stdout.trim(), 'active', `${h.name}: "autoUpdate": "registry" started the daily auto-update timer`);
    }
    t.ok(gets.size > 0, 'the upstream served the blobs (to the mirror)');
    for (const [digest, n] of gets) t.ok(n <= 2, `upstream GETs of ${digest.slice(0, 19)}: ${n} for ${HOSTS} hosts`);
    for (const digest of gets.keys()) t.ok((mirrored.get(digest) ?? 0) >= HOSTS, `every host got ${digest.slice(0, 19)} from the mirror (${mirrored.get(digest) ?? 0} GETs there)`);
    figures.push(`v1 blob GETs upstream ${[...gets.values()].join(",")}, at the mirror ${[...gets.keys()].map((d) => mirrored.get(d) ?? 0).join(",")}`);
  });

  t.test('apply again: changed false on every host, nothing pulled', async (t) => {
    const from = mirror.output().length;
    const results = await Promise.all(hosts.map((h) => h.sysctr(['apply', '--json'])));
    results.forEach((r, i) => {
      t.equal(r.exitCode, 0, `${hosts[i].name}: ${r.stderr}`);
      t.match(json(hosts[i], r.stdout), { changed: false, containers: [{ name: NAME, status: 'unchanged' }] });
    });
    t.same([...blobGets(mirror.output().slice(from)).keys()], [], 'no blob asked of the mirror');
  });

  t.test('v2 pushed under the same tag: auto-update updates every host, the upstream serves each blob at most twice', async (t) => {
    await push('v2');
    let results: { exitCode: number; stdout: string; stderr: string }[] = [];
    const { up: gets, mirrored } = await blobGetsDuring(async () => {
      results = await timed(`auto-update x${HOSTS} (v2)`, () => onEach((h) => h.sysctr(['auto-update', '--json'])));
    });
    results.forEach((r, i) => {
      t.equal(r.exitCode, 0, `${hosts[i].name}: ${r.stderr}`);
      t.match(json(hosts[i], r.stdout), { changed: true, containers: [{ name: NAME, status: 'updated' }] });
    });
    for (const h of hosts) t.match(await state(h, /version=v2/), /^version=v2 message=hello fleet /, `${h.name} answers with v2`);
    t.ok(gets.size > 0, 'the upstream served v2\'s new blobs');
    for (const [digest, n] of gets) t.ok(n <= 2, `upstream GETs of ${digest.slice(0, 19)}: ${n} for ${HOSTS} hosts`);
    for (const digest of gets.keys()) t.ok((mirrored.get(digest) ?? 0) >= HOSTS, `every host got ${digest.slice(0, 19)} from the mirror (${mirrored.get(digest) ?? 0} GETs there)`);
    figures.push(`v2 blob GETs upstream ${[...gets.values()].join(",")}, at the mirror ${[...gets.keys()].map((d) => mirrored.get(d) ?? 0).join(",")}`);
  });

  t.test('auto-update again: up-to-date everywhere, no blob fetched from the mirror or the upstream', async (t) => {
    const fromUp = upstream.output().length;
    const fromMirror = mirror.output().length;
    const results = await timed(`auto-update x${HOSTS} (no change)`, () => Promise.all(hosts.map((h) => h.sysctr(['auto-update', '--json']))));
    results.forEach((r, i) => {
      t.equal(r.exitCode, 0, `${hosts[i].name}: ${r.stderr}`);
      t.match(json(hosts[i], r.stdout), { changed: false, containers: [{ name: NAME, status: 'up-to-date' }] });
    });
    const asked = mirror.output().slice(fromMirror);
    t.ok(manifestRequests(asked).length >= HOSTS, `every host asked the mirror for the tag's manifest (${manifestRequests(asked).length} requests)`);
    t.same([...blobGets(asked).keys()], [], 'no blob GET at the mirror');
    t.same([...blobGets(upstream.output().slice(fromUp)).keys()], [], 'no blob GET at the upstream');
  });

  t.test('docs/fleet/playbook.yml through community.docker.nsenter: a new message applied, then changed=0', async (t) => {
    const inventory = path.join(work, 'inventory.ini');
    const lines = ['[fleet]'];
    hosts.forEach((h, i) => {
      const src = path.join(work, `ansible-${i}`, 'containers.d');
      fs.mkdirSync(src, { recursive: true });
      fs.writeFileSync(path.join(src, `${NAME}.json`), declaration(h, 'hello from ansible'));
      lines.push(`fleet-${i} ansible_connection=community.docker.nsenter ansible_nsenter_pid=${h.leader} ansible_python_interpreter=/usr/bin/python3 sysctr_containers_src=${src}/`);
    });
    fs.writeFileSync(inventory, lines.join('\n') + '\n');
    const play = (...extra: string[]) =>
      execa('ansible-playbook', [...extra, '-i', inventory, path.join(projectDir, 'docs/fleet/playbook.yml'), '-e', JSON.stringify({ sysctr_command: ['/usr/bin/node', sysctrBin] })], {
        reject: false,
        env: { ANSIBLE_NOCOLOR: '1', ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_LOCAL_TEMP: path.join(work, 'ansible-tmp'), ANSIBLE_RETRY_FILES_ENABLED: 'False' },
      });
    const recap = (out: string) => Object.fromEntries([...out.matchAll(/^(fleet-\d+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)].map((m) => [m[1], { ok: +m[2], changed: +m[3], unreachable: +m[4], failed: +m[5] }]));
    const first = await timed('ansible-playbook, first run', play);
    t.equal(first.exitCode, 0, first.stdout + first.stderr);
    const r1 = recap(first.stdout);
    t.equal(Object.keys(r1).length, HOSTS, `a PLAY RECAP line per host:\n${first.stdout}`);
    // the copy and the apply both changed something
    for (const [host, r] of Object.entries(r1)) t.match(r, { changed: 2, failed: 0, unreachable: 0 }, host);
    for (const h of hosts) t.match(await state(h, /hello from ansible/), /^version=v2 message=hello from ansible /, `${h.name} serves the new message`);
    const second = await timed('ansible-playbook, second run', play);
    t.equal(second.exitCode, 0, second.stdout + second.stderr);
    const r2 = recap(second.stdout);
    t.equal(Object.keys(r2).length, HOSTS);
    for (const [host, r] of Object.entries(r2)) t.match(r, { changed: 0, failed: 0, unreachable: 0 }, `${host}: changed=0`);
    // check mode with another message declared: the copy and apply --dry-run say they would change, nothing does
    hosts.forEach((h, i) => fs.writeFileSync(path.join(work, `ansible-${i}`, 'containers.d', `${NAME}.json`), declaration(h, 'hello from check mode')));
    const onHost = (h: Machine) => h.sh(`cat /etc/sysctr/containers.d/${NAME}.json; ls -d /tmp/*.containers.d 2>/dev/null; readlink /var/lib/containers/sysctr/${NAME}`);
    const before = await Promise.all(hosts.map(onHost));
    const check = await timed('ansible-playbook --check', () => play('--check'));
    t.equal(check.exitCode, 0, check.stdout + check.stderr);
    const r3 = recap(check.stdout);
    t.equal(Object.keys(r3).length, HOSTS);
    for (const [host, r] of Object.entries(r3)) t.match(r, { changed: 2, failed: 0 }, `${host}: --check: the copy and the apply would change`);
    t.same(await Promise.all(hosts.map(onHost)), before, 'check mode left the declarations and the deployments as they were, and no scratch dir');
    for (const h of hosts) t.match(await state(h, /hello/), /^version=v2 message=hello from ansible /, `${h.name} still serves the applied message`);
  });

  t.test('a broken v3 pushed: auto-update rolls back on every host, each still answers with v2', async (t) => {
    await push('v3');
    const results = await timed(`auto-update x${HOSTS} (broken v3)`, () => onEach((h) => h.sysctr(['auto-update', '--json'])));
    results.forEach((r, i) => {
      t.equal(r.exitCode, 1, `${hosts[i].name}: a rolled-back container fails the run: ${r.stdout}`);
      t.match(json(hosts[i], r.stdout), { containers: [{ name: NAME, status: 'rolled-back', reason: /^fleet-greeting\.service / }] });
    });
    for (const h of hosts) {
      t.match(await state(h, /version=v2/), /^version=v2 message=hello from ansible /, `${h.name} still answers with v2`);
      t.equal((await h.exec(['systemctl', 'is-active', `${NAME}.service`])).stdout.trim(), 'active');
    }
  });

  t.test('a v4 whose health check fails pushed: rolled back on every host, each still answers with v2', async (t) => {
    await push('v4');
    const results = await timed(`auto-update x${HOSTS} (unhealthy v4)`, () => onEach((h) => h.sysctr(['auto-update', '--json'])));
    results.forEach((r, i) => {
      t.equal(r.exitCode, 1, `${hosts[i].name}: ${r.stdout}`);
      t.match(json(hosts[i], r.stdout), { containers: [{ name: NAME, status: 'rolled-back', reason: /health check did not pass/ }] });
    });
    for (const h of hosts) t.match(await state(h, /version=v2/), /^version=v2 message=hello from ansible /, `${h.name} still answers with v2`);
  });
}
