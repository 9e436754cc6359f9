/**
 * The pure parts of auto-update (docs/auto-update.md): the --auto-update values, the timer's
 * service and timer files as written (quoting of paths in ExecStart, `%` doubled, the locations
 * passed on, user mode), and the policy kept in a deployment's info. The timer run by a real
 * systemd is test/e2e/e2e-auto-update.test.ts.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { resolvePaths } from '../../lib/paths.js';
import { SysctrError } from '../../lib/errors.js';
import { parsePolicy, policyOf, policies, writePolicy } from '../../lib/deploy/auto-update/policy.js';
import { autoUpdateCommand, renderTimerFiles } from '../../lib/deploy/auto-update/timer.js';

t.test('--auto-update values', async (t) => {
  t.equal(parsePolicy(undefined), undefined, 'not given');
  for (const p of ['registry', 'local', 'disabled']) t.equal(parsePolicy(p), p);
  let err: unknown;
  try {
    parsePolicy('always');
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof SysctrError, 'an unknown policy is refused');
  t.match(err, { code: 2, message: '--auto-update=always: not a policy', hint: /registry.*local.*disabled/ }, 'a usage error naming the value and the policies');
  t.equal(policyOf(undefined), 'disabled');
  t.equal(policyOf({}), 'disabled', 'an info from before auto-update');
});

t.test('the service runs this sysctr with the locations it was given', async (t) => {
  const paths = resolvePaths({ root: '/srv/my state', unitDir: '/etc/systemd/system', tmpfilesDir: '/etc/tmpfiles.d', registriesConf: '/etc/my-registries.conf' }, {});
  t.same(autoUpdateCommand(paths, { node: '/usr/bin/node', main: '/opt/sysctr/dist/cli/main.js' }), [
    '/usr/bin/node', '/opt/sysctr/dist/cli/main.js', 'auto-update', '--root', '/srv/my state', '--unit-dir', '/etc/systemd/system', '--tmpfiles-dir', '/etc/tmpfiles.d',
    '--registries-conf', '/etc/my-registries.conf',
  ]);
  const { service, timer } = renderTimerFiles(paths, { node: '/usr/bin/node', main: '/opt/100%/main.js' });
  t.match(service, /^# Managed by sysctr/);
  t.match(service, '\nExecStart=/usr/bin/node "/opt/100%%/main.js" auto-update --root "/srv/my state" --unit-dir /etc/systemd/system ', 'a space quoted, % doubled');
  t.match(service, '\nType=oneshot\n');
  t.match(service, '\nAfter=network-online.target\n', 'system mode waits for the network');
  t.same(timer.split('\n').filter((l) => /^\w+=/.test(l)), ['Description=Daily sysctr auto-update', 'OnCalendar=daily', 'RandomizedDelaySec=1h', 'Persistent=true', 'WantedBy=timers.target']);
  const user = resolvePaths({ user: true, root: '/home/u/.local/share/containers/sysctr' }, { HOME: '/home/u' });
  const u = renderTimerFiles(user, { node: '/usr/bin/node', main: '/m.js' });
  t.match(u.service, ' --user\n', 'user mode: --user');
  t.notMatch(u.service, 'network-online', 'no system target in a user manager');
});

t.test('the policy in info: rewritten alone, read back per container', async (t) => {
  const root = t.testdir({});
  const info = { name: 'au-x', image: 'localhost/x:1', imageId: 'sha256:1', values: { A: '1' }, set: {}, runtime: 'runc', created: '', detached: false, user: false, unitPath: '/u' };
  fs.mkdirSync(path.join(root, 'au-x.0'));
  fs.writeFileSync(path.join(root, 'au-x.0/info'), JSON.stringify(info));
  fs.symlinkSync('au-x.0', path.join(root, 'au-x'));
  t.equal(writePolicy(path.join(root, 'au-x.0'), 'disabled'), false, 'already disabled: nothing written');
  t.equal(writePolicy(path.join(root, 'au-x.0'), 'registry'), true);
  const after = JSON.parse(fs.readFileSync(path.join(root, 'au-x.0/info'), 'utf8'));
  t.same(after, { ...info, autoUpdate: 'registry' }, 'only the policy changed');
  t.same([...policies(root)], [['au-x', 'registry']]);
  writePolicy(path.join(root, 'au-x.0'), 'disabled');
  t.notOk('autoUpdate' in JSON.parse(fs.readFileSync(path.join(root, 'au-x.0/info'), 'utf8')), 'disabled: the field goes');
});
