/**
 * End to end, in one systemd booted with systemd-nspawn: an image from each outside builder
 * (umoci repack, buildah on overlay, podman on vfs, and a skopeo copy into a loopback registry)
 * carrying the example service's /exports is pulled, installed, started; the service answers
 * over HTTP; it stops inactive; it uninstalls. The images are the builder matrix's (base tree +
 * content script), so the awkward entries travel all the way to a running container.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { containersTool, run, writeBaseTree, writeContext } from '../helpers/builders.js';
import { startRegistry } from '../helpers/registry.js';

if (requireRealSystemd(t) && requirePrereqs(t, ['buildah', 'podman', 'umoci', 'skopeo', 'docker-registry'])) {
  // a loaded machine (2 cores, tests side by side) can take over a minute to boot
  const m = await Machine.boot({ timeoutMs: 180_000 });
  t.teardown(() => m.shutdown());
  const s = (f: string) => path.join(m.scratch, f);

  // umoci: base tree, then the content script's layer
  const ul = s('umoci-img');
  await run('umoci', ['init', '--layout', ul]);
  await run('umoci', ['new', '--image', `${ul}:v1`]);
  await run('umoci', ['unpack', '--image', `${ul}:v1`, s('bundle')]);
  writeBaseTree(s('bundle/rootfs'));
  await run('umoci', ['repack', '--image', `${ul}:v1`, s('bundle')]);
  await run('sh', [s('bundle/rootfs/mk.sh'), s('bundle/rootfs')]);
  await run('umoci', ['repack', '--image', `${ul}:v1`, s('bundle')]);
  await run('umoci', ['config', '--image', `${ul}:v1`, '--config.cmd', '/usr/bin/run.sh', '--config.label', 'atomic.type=system']);
  fs.rmSync(s('bundle'), { recursive: true, force: true });

  const ctx = writeContext(s('ctx'));
  const buildah = containersTool('buildah', 'overlay', s('buildah-storage'));
  await buildah(['bud', '--quiet', '--layers', '--isolation', 'chroot', '-f', path.join(ctx, 'Containerfile'), '-t', 'localhost/bld-e2e-buildah:v1', ctx]);
  await buildah(['push', '--quiet', 'localhost/bld-e2e-buildah:v1', `oci:${s('buildah-img')}:v1`]);
  const podman = containersTool('podman', 'vfs', s('podman-storage'));
  await podman(['build', '--quiet', '--layers', '--isolation', 'chroot', '-f', path.join(ctx, 'Containerfile'), '-t', 'localhost/bld-e2e-podman:v1', ctx]);
  await podman(['save', '--quiet', '--format', 'oci-archive', '-o', s('podman-img.oci.tar'), 'localhost/bld-e2e-podman:v1']);
  for (const d of ['buildah-storage', 'podman-storage']) fs.rmSync(s(d), { recursive: true, force: true });

  // the registry image: pushed by skopeo to a registry here, served in the machine from the same
  // storage (the machine has a loopback of its own)
  const regStore = s('registry-storage');
  const hostReg = await startRegistry({ storageDir: regStore });
  try {
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${ul}:v1`, `docker://${hostReg.host}/bld/e2e:v1`]);
  } finally {
    await hostReg.stop();
  }
  fs.writeFileSync(s('registry.yml'), ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${regStore}`, 'http:', '  addr: 127.0.0.1:5123', ''].join('\n'));
  const started = await m.exec(['systemd-run', '--unit=bld-e2e-registry', '/usr/bin/docker-registry', 'serve', s('registry.yml')]);
  t.equal(started.exitCode, 0, `registry in the machine: ${started.stderr}`);

  const env = { SYSCTR_ROOT: '/var/lib/sysctr-bld' };
  const images = [
    { name: 'bld-umoci', source: `oci:${ul}:v1`, port: 8301 },
    { name: 'bld-buildah', source: `oci:${s('buildah-img')}:v1`, port: 8302 },
    { name: 'bld-podman', source: `oci-archive:${s('podman-img.oci.tar')}`, port: 8303 },
    { name: 'bld-registry', source: 'docker://127.0.0.1:5123/bld/e2e:v1', port: 8304, pullArgs: ['--tls-verify=false'] },
  ];

  for (const img of images) {
    t.test(`${img.name}: pull ${img.source}, install, start, answer, stop, uninstall`, async (t) => {
      let pull = await m.sysctr(['pull', ...(img.pullArgs ?? []), img.source], env);
      for (let i = 0; i < 20 && pull.exitCode !== 0 && /connect|refused/i.test(pull.stderr); i++) {
        await new Promise((r) => setTimeout(r, 250)); // the machine's registry may still be starting
        pull = await m.sysctr(['pull', ...(img.pullArgs ?? []), img.source], env);
      }
      t.equal(pull.exitCode, 0, `pull: ${pull.stderr.trim()}`);
      const image = /^(\S+): pulled sha256:/m.exec(pull.stdout)?.[1];
      if (!image) return;
      const message = `hello-from-${img.name}`;
      const inst = await m.sysctr(['install', '--name', img.name, '--set', `PORT=${img.port}`, '--set', `MESSAGE=${message}`, '--set', 'SYSCTR_STOP_TIMEOUT=2', image], env);
      t.equal(inst.exitCode, 0, `install: ${inst.stderr.trim()}`);
      if (inst.exitCode !== 0) return;
      const unit = `${img.name}.service`;
      const start = await m.exec(['systemctl', 'start', unit]);
      t.equal(start.exitCode, 0, `systemctl start: ${start.stderr}`);
      t.equal((await m.exec(['systemctl', 'is-active', unit])).stdout.trim(), 'active', 'active after start');
      let page = '';
      for (let i = 0; i < 40 && !page.includes(message); i++) {
        page = (await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${img.port}/`])).stdout;
        if (!page.includes(message)) await new Promise((r) => setTimeout(r, 250));
      }
      t.equal(page.trim(), message, 'the service answers with the installed value');
      // the awkward entries are in the running container's root filesystem
      const inside = await m.sysctr(['run', img.name, '--', '/bin/sh', '-c', 'cat /owners/big; ls -ln /owners/big; cat "/données/ünïcödé-名前.txt"'], env);
      t.match(inside.stdout, /big\n.*3000000\s+3000001[\s\S]*utf8/, `inside the container: ${inside.stderr}`);
      const stop = await m.exec(['systemctl', 'stop', unit]);
      t.equal(stop.exitCode, 0, `systemctl stop: ${stop.stderr}`);
      t.equal((await m.exec(['systemctl', 'is-active', unit])).stdout.trim(), 'inactive', 'inactive after stop');
      const un = await m.sysctr(['uninstall', img.name], env);
      t.equal(un.exitCode, 0, `uninstall: ${un.stderr.trim()}`);
      t.equal((await m.exec(['test', '-e', `/etc/systemd/system/${unit}`])).exitCode, 1, 'the unit is gone');
      t.equal((await m.exec(['runc', 'list', '-q'])).stdout.includes(img.name), false, 'no runc container left');
    });
  }
}
