/**
 * End to end, in a systemd booted with systemd-nspawn, with real runc: `sysctr run NAME CMD ARGS...`
 * hands CMD its options (`--endpoints=a`, `-q`, `--help`) instead of reading them as sysctr's, in the
 * running service (runc exec) and, once it is stopped, in a one-off `runc run`.
 */
import t from 'tap';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  const env = { SYSCTR_ROOT: '/var/lib/sysctr-run-argv' };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  // names of their own: units of machines booted side by side can share cgroups (test/helpers/nspawn.ts)
  const name = 'demo-runargs';
  const echoArgs = ['sh', '-c', 'echo "$@"', 'x', '--endpoints=a', '-q'];

  t.test('pull and install --now', async (t) => {
    const pull = await sysctr(['pull', `oci:${layout}:v1`]);
    t.equal(pull.exitCode, 0, pull.stderr);
    const install = await sysctr(['install', '--name', name, '--set', 'PORT=8185', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:v1']);
    t.equal(install.exitCode, 0, install.stderr);
  });

  t.test('running: runc exec gets the options after CMD', async (t) => {
    t.equal((await m.exec(['systemctl', 'is-active', `${name}.service`])).stdout.trim(), 'active');
    const r = await sysctr(['run', name, ...echoArgs]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stdout, '--endpoints=a -q');
    const help = await sysctr(['run', name, 'sh', '-c', 'echo "got $1"', 'x', '--help']);
    t.equal(help.exitCode, 0, help.stderr);
    t.equal(help.stdout, 'got --help', '--help after CMD reaches the command');
    const dashes = await sysctr(['run', '--root', env.SYSCTR_ROOT, name, '--', 'sh', '-c', 'echo "$0 $1"', '-x', '--flag']);
    t.equal(dashes.exitCode, 0, dashes.stderr);
    t.equal(dashes.stdout, '-x --flag', '--root before NAME is sysctr\'s; after -- the command');
    const status = await sysctr(['run', name, 'sh', '-c', 'exit 7']);
    t.equal(status.exitCode, 7, "the command's exit status");
  });

  t.test('stopped: a one-off runc run gets the same command', async (t) => {
    const stop = await sysctr(['stop', name]);
    t.equal(stop.exitCode, 0, stop.stderr);
    t.equal((await m.exec(['runc', 'list', '-q'])).stdout.trim(), '', 'no container running');
    const r = await sysctr(['run', name, ...echoArgs]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stdout, '--endpoints=a -q');
    t.equal((await m.exec(['runc', 'list', '-q'])).stdout.trim(), '', 'the one-off container is gone');
    t.equal((await m.exec(['systemctl', 'is-active', `${name}.service`])).stdout.trim(), 'inactive', 'the service was not started');
  });

  t.test('uninstall', async (t) => {
    t.equal((await sysctr(['uninstall', name])).exitCode, 0);
  });
}
