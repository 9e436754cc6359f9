/**
 * End to end, in a systemd booted with systemd-nspawn, with real runc: what a power cut can leave.
 * A journal cut short (it exists but does not parse) is reported and repaired from the live
 * deployment by the next command, never read as "nothing pending".
 */
import t from 'tap';
import path from 'node:path';
import { projectDir } from './helpers/cli.js';
import { Machine, buildImage, requireRealSystemd } from './helpers/nspawn.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 180_000 });
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  await buildImage(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  const root = '/var/lib/sysctr-durable';
  const sysctr = (args: string[]) => m.sysctr(args, { SYSCTR_ROOT: root });
  const name = 'dur-web';
  const unit = `/etc/systemd/system/${name}.service`;

  t.test('install --now', async (t) => {
    t.equal((await sysctr(['pull', '-q', `oci:${layout}:v1`])).exitCode, 0);
    const r = await sysctr(['install', '--name', name, '--set', 'PORT=8186', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
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
    t.match(stop.stdout, `repaired: its unit files were written again from ${name}.0, which stays live`);
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
