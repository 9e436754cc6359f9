/**
 * End to end, in a systemd booted with systemd-nspawn, with real runc: what a power cut can leave.
 * Power cuts cannot be simulated here, so the order of the calls that make install and update
 * durable is checked with strace: the deployment's files reach the disk (syncfs) before the live
 * link is renamed to it, the link's directory is fsynced after; the unit and info are fsynced
 * before their renames. Files that hold values are 0600. A journal cut short (it exists but does
 * not parse) is reported and repaired from the live deployment by the next command, never read as
 * "nothing pending".
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 180_000 });
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  const root = '/var/lib/sysctr-durable';
  const sysctr = (args: string[]) => m.sysctr(args, { SYSCTR_ROOT: root });
  const name = 'dur-web';
  const unit = `/etc/systemd/system/${name}.service`;

  /** sysctr under strace inside the machine: the calls that order writes, one per line */
  async function traced(args: string[]): Promise<{ exitCode: number; stderr: string; calls: string[] }> {
    const out = path.join(m.scratch, `trace-${args[0]}`);
    const r = await m.exec(['strace', '-f', '-qq', '-e', 'trace=fsync,syncfs,rename,renameat,renameat2', '-o', out, '/usr/bin/node', path.join(projectDir, 'dist/cli/main.js'), ...args], { env: { SYSCTR_ROOT: root } });
    const text = (await m.exec(['cat', out])).stdout;
    return { ...r, calls: text.split('\n').filter((l) => /^\d+\s+(fsync|syncfs|rename)/.test(l) && !/= -1/.test(l)) };
  }
  /** the live link is switched after a syncfs, and its directory fsynced after the rename */
  function checkLinkOrder(t: Test, calls: string[]) {
    const link = calls.findIndex((l) => new RegExp(`rename\\w*\\(.*"${root}/\\.${name}\\.sysctr-link-\\d+", .*"${root}/${name}"`).test(l));
    t.ok(link > 0, 'the live link was renamed into place');
    t.ok(calls.slice(0, link).some((l) => /syncfs\(/.test(l)), 'after a syncfs of the deployment');
    t.ok(calls.slice(link + 1).some((l) => /fsync\(/.test(l)), 'and its directory fsynced after the rename');
    const unitRename = calls.findIndex((l) => /rename\w*\(.*\.tmp-dur-web\.service-.*\/dur-web\.service"/.test(l));
    if (unitRename >= 0) t.ok(/fsync\(/.test(calls.slice(0, unitRename).reverse().find((l) => /fsync|rename/.test(l)) ?? ''), 'the unit fsynced right before its rename');
  }

  t.test('install --now: syncfs before the live link moves; values 0600', async (t) => {
    t.equal((await sysctr(['pull', '-q', `oci:${layout}:v1`])).exitCode, 0);
    const r = await traced(['install', '--name', name, '--set', 'PORT=8186', '--set', 'SECRET=s3cr3t', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    checkLinkOrder(t, r.calls);
    const modes = (await m.exec(['stat', '-c', '%a %n', `${root}`, `${root}/${name}.0/config.json`, `${root}/${name}.0/info`])).stdout.split('\n');
    t.same(modes.map((l) => l.split(' ')[0]), ['700', '600', '600'], modes.join('; '));
  });

  t.test('update: the same order for the switch to the new deployment', async (t) => {
    const r = await traced(['containers', 'update', '--set', 'PORT=8188', name]);
    t.equal(r.exitCode, 0, r.stderr);
    checkLinkOrder(t, r.calls);
    t.equal((await m.exec(['stat', '-c', '%a', `${root}/${name}.1/config.json`])).stdout, '600');
  });

  t.test('a torn journal and a lost unit: reported, listed as pending, repaired by the next command', async (t) => {
    const before = (await m.exec(['cat', unit])).stdout;
    // what a power cut during a write can leave: half a journal, an empty unit file
    await m.sh(`printf '{"op": "upd' > ${root}/.${name}.journal && : > ${unit}`);
    const list = await sysctr(['containers', 'list', '--json']);
    t.match(JSON.parse(list.stdout)[0], { name, pending: 'damaged-journal' }, 'containers list shows the damaged journal as pending');
    const stop = await sysctr(['stop', name]);
    t.equal(stop.exitCode, 0, stop.stderr);
    t.match(stop.stdout, `${name}: its journal ${root}/.${name}.journal could not be read`);
    t.match(stop.stdout, new RegExp(`repaired: its unit files were written again from ${name}\\.1, which stays live`));
    t.equal((await m.exec(['cat', unit])).stdout, before, 'the unit is whole again');
    t.equal((await m.exec(['test', '-e', `${root}/.${name}.journal`])).exitCode, 1, 'the journal is gone');
    const state = (await m.exec(['systemctl', 'show', '-p', 'ActiveState,Result', `${name}.service`])).stdout;
    t.match(state, 'ActiveState=inactive', 'stopped');
    t.match(state, 'Result=success', 'not failed');
    const start = await sysctr(['start', name]);
    t.equal(start.exitCode, 0, start.stderr);
    t.equal(JSON.parse((await sysctr(['containers', 'list', '--json'])).stdout)[0].pending, null);
  });

  t.test('uninstall', async (t) => {
    t.equal((await sysctr(['uninstall', name])).exitCode, 0);
  });
}
