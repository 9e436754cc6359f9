/**
 * The real Project Atomic images of the compat corpus (test/helpers/compat.ts): each is linted and rendered without a crash
 * or a misparse, and their known problems are found where they are (docs/lint-rules.md reviews
 * every finding).
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { lint } from '../../lib/lint/index.js';
import { renderDeployment } from '../../lib/deploy/render.js';
import { readSourceDir } from '../../lib/rootfs/exports.js';
import { SysctrError } from '../../lib/errors.js';
import { sysctr } from '../helpers/cli.js';
import { compatDir, compatImages, missingCompat } from '../helpers/compat.js';
import { unmet } from '../helpers/prereq.js';

const compat = compatDir;
const why = missingCompat();

if (why) unmet(t, `${why}; the real Atomic images were not checked`);
else {
  const dirs = compatImages().map((i) => i.dir);

  t.test('every compat image lints without a crash', async (t) => {
    t.ok(dirs.length >= 14, `${dirs.length} images`);
    const r = await lint(dirs, { noSystemd: true });
    const byDir = (d: string) => r.findings.filter((f) => f.file.startsWith(d + '/')).map((f) => `${path.relative(d, f.file)}:${f.line}:${f.column} ${f.rule}`);
    const at = (g: string, d: string) => byDir(path.join(compat, g, d));
    // the reviewed findings (docs/lint-rules.md), exactly
    t.same(at('atomic-tests', 'system-container-files'), [
      'config.json.template:117:11 config-obsolete-field',
      'config.json.template:120:3 config-obsolete-field',
      'config.json.template:148:3 config-selinux-process-label',
      'service.template:9:9 unit-restart-value',
      'service.template:11:1 unit-detached-not-forking',
    ]);
    t.same(at('atomic-tests', 'system-container-update-files'), [
      'config.json.template:22:25 template-undefined-variable',
      'config.json.template:145:3 config-selinux-process-label',
    ]);
    t.same(at('atomic-tests', 'system-container-runonce-files'), [
      'config.json.template:21:14 template-undefined-variable',
      'config.json.template:27:15 config-root-readonly',
    ]);
    t.same(at('atomic-system-containers', 'qemu-guest-agent'), [
      'Dockerfile:1:1 dockerfile-label-system',
      'Dockerfile:1:6 dockerfile-unpinned-base',
      'Dockerfile:10:5 dockerfile-cache-clean',
      'config.json.template:26:19 config-schema',
    ]);
    t.same(at('atomic-system-containers', 'flannel'), [], 'flannel is clean');
    t.same(at('atomic-system-containers', 'etcd'), ['Dockerfile:1:1 dockerfile-label-system']);
    t.same(at('atomic-system-containers', 'net-snmp'), ['config.json.template:343:14 config-bind-host-state']);
    t.equal(r.summary.errors, 5);
    t.equal(r.summary.warnings, 24);
  });

  t.test('with systemd-analyze verify too: no crash, no finding systemd adds on these units', async (t) => {
    const r = await sysctr(['lint', '--format', 'json', ...dirs]);
    t.equal(r.exitCode, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    t.same(out.findings.filter((f: { rule: string }) => f.rule === 'unit-systemd-verify'), []);
  });

  t.test('every compat image renders, or fails with the error a user can act on', async (t) => {
    const expectedFailures: Record<string, RegExp> = {
      'qemu-guest-agent': /^config\.json\.template:26:19: config\.json: process\.capabilities must be object/,
      'system-container-runonce-files': /^config\.json\.template:21:14: variable RECEIVER has no value; set it with --set RECEIVER=\.\.\.$/,
      'system-container-update-files': /^config\.json\.template:22:25: variable VAR_WITH_NO_DEFAULT has no value; set it with --set VAR_WITH_NO_DEFAULT=\.\.\.$/,
    };
    for (const d of dirs) {
      const name = path.basename(d);
      const input = {
        name, destdir: `/var/lib/containers/sysctr/${name}.0`, exports: readSourceDir(d), set: {},
        runtime: '/usr/bin/runc', user: false, hostUid: 0, hostGid: 0,
      };
      try {
        const r = renderDeployment(input);
        t.notOk(expectedFailures[name], `${name} renders`);
        t.doesNotThrow(() => JSON.parse(r.configJson), `${name}: config.json is JSON`);
        t.match(r.unit, /ExecStart=\/usr\/bin\/runc run/, `${name}: the unit runs runc`);
        // `$$` is systemd's own escape for a literal `$` (the generated stop command uses it)
        t.notMatch((r.unit + r.tmpfiles + r.configJson).replace(/\$\$/g, ''), /\$\{?[A-Z_]+\}?/, `${name}: no placeholder left`);
      } catch (err) {
        t.ok(err instanceof SysctrError, `${name}: a user error, not a crash`);
        t.match((err as Error).message, expectedFailures[name] ?? /^$/, `${name}: ${(err as Error).message}`);
      }
    }
    const updates = path.join(compat, 'atomic-tests/system-container-update-files');
    const r = renderDeployment({
      name: 'u', destdir: '/d/u.0', exports: readSourceDir(updates), set: { VAR_WITH_NO_DEFAULT: 'given' },
      runtime: '/usr/bin/runc', user: false, hostUid: 0, hostGid: 0,
    });
    t.match(r.configJson, '"VAR_WITH_NO_DEFAULT=given"', 'renders once the variable is set');
    const files = renderDeployment({
      name: 'f', destdir: '/d/f.0', exports: readSourceDir(path.join(compat, 'atomic-tests/system-container-files')), set: {},
      runtime: '/usr/bin/runc', user: false, hostUid: 0, hostGid: 0,
    });
    t.equal(files.detached, true, 'PIDFILE + EXEC_STOPPOST: detached');
    t.same(JSON.parse(files.configJson).linux.capabilities.bounding.slice(0, 2), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE'], 'ALL_PROCESS_CAPABILITIES inside the JSON array');
  });
}
