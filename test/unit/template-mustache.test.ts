/**
 * The files sysctr generates come from templates/ (mustache), each value escaped for its format:
 * JSON-escaped in config.json, systemd's rules in units and drop-ins, never HTML. And the CLI
 * (`sysctr render` of an image with no /exports) prints what those templates give.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { renderMustache, renderShipped } from '../../lib/template/mustache.js';
import { defaultUnit } from '../../lib/deploy/default-unit.js';
import { defaultConfigText } from '../../lib/deploy/default-config.js';
import { MANAGED_HEADER, renderDropIn, unitRunsStop } from '../../lib/systemd/dropin.js';
import { execCommands, stopCommand } from '../../lib/runtime/commands.js';
import { grantableConfig } from '../../lib/runtime/capabilities.js';
import { managerCapabilities } from '../../lib/runtime/manager-caps.js';
import { parseJsonWithLocations } from '../../lib/template/json-locate.js';
import { parseUnitFile } from '../../lib/systemd/unit-file.js';
import { SysctrError } from '../../lib/errors.js';
import { projectDir, sysctr } from '../helpers/cli.js';

function caught(f: () => unknown): Error | undefined {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

t.test('JSON: values JSON-escaped inside strings, fragments outside, nothing HTML-escaped', async (t) => {
  const tpl = '{\n  "a": "{{s}}",\n  "n": {{n}}\n}\n';
  const out = renderMustache('x.json', tpl, { s: 'say "hi" \\ <b>&amp;\' é\n\u0001', n: 42 }, 'json');
  t.same(JSON.parse(out), { a: 'say "hi" \\ <b>&amp;\' é\n\u0001', n: 42 }, 'the value arrives as that value');
  t.match(out, '<b>&amp;\'', 'no HTML escaping');
  const bad = caught(() => renderMustache('x.json', tpl, { s: 'ok', n: '1, "evil": true }' }, 'json'));
  t.ok(bad instanceof SysctrError);
  t.match(bad?.message, /^x\.json:3:8: the value of n .*not JSON/, 'a value that would close a bracket is refused, with its place');
});

t.test('systemd: % written %%, control characters refused with file:line:col, no HTML escaping', async (t) => {
  t.equal(renderMustache('u', 'A={{v}}\n', { v: '100% <&"\'>' }, 'systemd'), 'A=100%% <&"\'>\n');
  const e = caught(() => renderMustache('u', '[S]\nA={{v}}\n', { v: 'x\nExecStart=/bin/evil' }, 'systemd'));
  t.ok(e instanceof SysctrError);
  t.match(e?.message, /^u:2:3: the value of v has a newline in it/);
  t.match(caught(() => renderMustache('u', 'A={{v}}\n', { v: 'x\\' }, 'systemd'))?.message, /backslash at the end of a line/);
  t.match(caught(() => renderMustache('u', 'A={{{v}}}\n', { v: 'x' }, 'systemd'))?.message, /unescaped/, 'triple mustache refused');
  t.match(caught(() => renderMustache('u', 'A={{v}}\n', {}, 'systemd'))?.message, /\{\{v\}\} has no value/, 'a missing value is a bug, not a blank');
});

t.test('the default unit: a DESTDIR with % or a line break', async (t) => {
  const values = { NAME: 'p', DESTDIR: '/srv/100%/p.0', EXEC_START: '/usr/sbin/runc run p' };
  t.match(parseUnitFile(defaultUnit(values)).get('Service', 'WorkingDirectory'), '/srv/100%%/p.0', 'systemd would expand a lone %');
  const e = caught(() => defaultUnit({ ...values, DESTDIR: '/srv/a\nExecStartPost=/bin/x' }));
  t.ok(e instanceof SysctrError, 'refused as a user error');
  t.match(e?.message, /^templates\/default\.service\.mustache:\d+:\d+: the value of DESTDIR has a newline/);
});

t.test('the drop-in: sysctr\'s header first, ExecStop only when the unit does not run the stop script', async (t) => {
  const stop = stopCommand('/usr/sbin/runc', 'w');
  const base = { name: 'w', runtime: '/usr/sbin/runc', detached: false, pidfile: '/run/p' };
  const d = renderDropIn({ ...base, unit: '' });
  t.ok(d.startsWith(`${MANAGED_HEADER} for container w`), 'how sysctr knows the file as its own (dropInOwner)');
  t.same(parseUnitFile(d).getAll('Service', 'ExecStop'), [stop]);
  t.notOk(parseUnitFile(renderDropIn({ ...base, unit: `[Service]\nExecStop=${stop}\n` })).has('Service', 'ExecStop'));
  t.notOk(unitRunsStop(`[Service]\nExecStop=${stop}\nExecStop=\n`, stop), 'an empty ExecStop= cancels the one before (systemd.service(5))');
  t.ok(unitRunsStop(`[Service]\nExecStop=\\\n# a comment\n  ${stop}\n`, stop), 'a comment inside a continuation is skipped');
  t.equal(parseUnitFile(d).errors.length, 0);
});

t.test('npm pack ships templates/', async (t) => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: projectDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
  for (const f of fs.readdirSync(path.join(projectDir, 'templates'))) t.ok(files.includes(`templates/${f}`), `templates/${f} is in the package`);
});

t.test('sysctr render of an image with no /exports prints what the templates give', async (t) => {
  const dir = t.testdir({ 'Dockerfile': 'FROM scratch\n' });
  const root = t.testdir({});
  const r = await sysctr(['render', '--root', root, '--name', 'bare', '--runtime', '/usr/sbin/runc', dir]);
  t.equal(r.exitCode, 0, r.stderr);
  const destdir = path.join(root, 'bare.0');
  const cmds = execCommands({ name: 'bare', runtime: '/usr/sbin/runc', destdir, detached: false, pidfile: '/run/container-bare.pid' });
  const config = renderShipped('default-config.json.mustache', {
    uid: 0, gid: 0, args: [{ value: '/usr/bin/run.sh', last: true }],
    env: [{ value: 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', last: false }, { value: 'TERM=xterm', last: true }],
    cwd: '/', hostname: 'bare',
  });
  const grant = managerCapabilities({ user: false, uid: process.getuid?.() ?? 0 });
  const unit = renderShipped('default.service.mustache', { NAME: 'bare', DESTDIR: destdir, ...cmds, user: false, wantedBy: 'multi-user.target' });
  const dropIn = renderShipped('sysctr-dropin.conf.mustache', {
    name: 'bare', runtime: '/usr/sbin/runc', detached: false, pidfile: '', stopTimeout: 10, stopMinUptime: 3, timeoutStopSec: 38, execStop: '',
  });
  const expected = [
    `==> config.json <==\n${grantableConfig(config, parseJsonWithLocations(config), grant).text}`,
    `==> bare.service <==\n# Managed by sysctr for container bare; do not edit. Removed by: sysctr uninstall bare\n${unit}`,
    `==> bare.service.d/sysctr.conf <==\n${dropIn}`,
  ].join('\n');
  // execa strips the final newline
  t.equal(r.stdout + '\n', expected);
  t.equal(defaultConfigText({ name: 'bare' }), config, 'defaultConfigText is that template');
});
