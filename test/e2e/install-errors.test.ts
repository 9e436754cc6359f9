/**
 * Bad input to install: each one is an exit status, one clear line on stderr, and nothing
 * written anywhere - not in the state root, the unit dir or the tmpfiles dir. These fail before
 * systemd is needed, so they run on the host, against images pulled into a temp state root.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectDir, sysctr } from '../helpers/cli.js';
import { missingPrerequisite } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { unmet } from '../helpers/prereq.js';

const why = missingPrerequisite();
if (why) unmet(t, `install error tests need root, umoci and busybox to build images: ${why}`);
else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-install-errors-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = {
    SYSCTR_ROOT: path.join(dir, 'root'),
    SYSCTR_UNIT_DIR: path.join(dir, 'units'),
    SYSCTR_TMPFILES_DIR: path.join(dir, 'tmpfiles.d'),
  };
  const run = (args: string[]) => sysctr(args, { env });
  const example = path.join(projectDir, 'fixtures/images/example');
  const layout = path.join(dir, 'layout');
  const variant = async (tag: string, edit: (exportsDir: string) => void) => {
    const src = path.join(dir, `src-${tag}`);
    fs.cpSync(example, src, { recursive: true });
    edit(path.join(src, 'exports'));
    await buildImageWithUmoci(src, layout, tag);
    const r = await run(['pull', `oci:${layout}:${tag}`]);
    if (r.exitCode !== 0) throw new Error(r.stderr);
  };
  const cfgPath = (e: string) => path.join(e, 'config.json.template');
  await variant('good', () => {});
  await variant('novalue', (e) => fs.writeFileSync(cfgPath(e), fs.readFileSync(cfgPath(e), 'utf8').replace('"NAME=$NAME",', '"NAME=$NAME",\n      "X=$VAR_WITH_NO_DEFAULT",')));
  await variant('badjson', (e) => fs.writeFileSync(cfgPath(e), fs.readFileSync(cfgPath(e), 'utf8').replace('"LITERAL=$$NAME"', '"LITERAL=$$NAME",$EXTRA_ENV')));
  await variant('writable', (e) => fs.writeFileSync(cfgPath(e), fs.readFileSync(cfgPath(e), 'utf8').replace('"readonly": true', '"readonly": false')));

  /** every path under the three dirs, with sizes: "nothing written" is this not changing */
  const snapshot = () => {
    const out: string[] = [];
    const walk = (d: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = path.join(d, e.name);
        const st = fs.lstatSync(p);
        out.push(`${p} ${e.isDirectory() ? 'dir' : st.size}`);
        if (e.isDirectory()) walk(p);
      }
    };
    for (const d of Object.values(env)) walk(d);
    return out.sort();
  };

  const cases: Array<{ what: string; args: string[]; code: number; message: RegExp; setup?: () => void }> = [
    { what: 'a variable with no value', args: ['--name', 'web', 'layout:novalue'], code: 1, message: /^sysctr: config\.json\.template:\d+:\d+: variable VAR_WITH_NO_DEFAULT has no value; set it with --set VAR_WITH_NO_DEFAULT=/ },
    { what: '--set without =', args: ['--name', 'web', '--set', 'PORT', 'layout:good'], code: 2, message: /^sysctr: --set PORT: expected NAME=VALUE/ },
    { what: '--set of a forced variable', args: ['--name', 'web', '--set', 'DESTDIR=/tmp', 'layout:good'], code: 2, message: /^sysctr: --set DESTDIR: DESTDIR is set by sysctr/ },
    { what: 'a name with /', args: ['--name', 'a/b', 'layout:good'], code: 2, message: /^sysctr: container name "a\/b" contains "\/"/ },
    { what: 'a name with ..', args: ['--name', 'a..b', 'layout:good'], code: 2, message: /^sysctr: container name "a\.\.b" contains "\.\."/ },
    { what: 'a name with a space', args: ['--name', 'a b', 'layout:good'], code: 2, message: /^sysctr: container name "a b" contains white space/ },
    { what: 'a name with a leading -', args: ['--name=-web', 'layout:good'], code: 2, message: /^sysctr: container name "-web" starts with "-"/ },
    { what: 'an empty name', args: ['--name=', 'layout:good'], code: 2, message: /^sysctr: the container name is empty/ },
    {
      what: 'a unit of that name sysctr did not write',
      args: ['--name', 'web', 'layout:good'],
      code: 1,
      message: /^sysctr: .*units\/web\.service already exists and was not written by sysctr/,
      setup: () => {
        fs.mkdirSync(env.SYSCTR_UNIT_DIR, { recursive: true });
        fs.writeFileSync(path.join(env.SYSCTR_UNIT_DIR, 'web.service'), '[Service]\nExecStart=/bin/true\n');
      },
    },
    { what: 'config.json invalid JSON after rendering', args: ['--name', 'web2', '--set', 'EXTRA_ENV="A=1",', 'layout:badjson'], code: 1, message: /^sysctr: config\.json\.template:\d+:\d+: config\.json: not valid JSON after rendering/ },
    { what: 'config.json not read-only', args: ['--name', 'web2', 'layout:writable'], code: 1, message: /^sysctr: config\.json\.template:\d+:\d+: config\.json: root\.readonly must be true/ },
    { what: '--rootfs that does not exist', args: ['--name', 'web2', '--rootfs', '/nonexistent/rootfs', 'layout:good'], code: 1, message: /^sysctr: --rootfs \/nonexistent\/rootfs: no such directory/ },
    {
      what: '--rootfs that is empty',
      args: ['--name', 'web2', '--rootfs', path.join(os.tmpdir(), 'sysctr-empty-rootfs'), 'layout:good'],
      code: 1,
      message: /^sysctr: --rootfs .*: the directory is empty, there is no rootfs in it/,
      setup: () => fs.mkdirSync(path.join(os.tmpdir(), 'sysctr-empty-rootfs'), { recursive: true }),
    },
    { what: 'a runtime path that does not exist', args: ['--name', 'web2', '--runtime', '/nonexistent/runc', 'layout:good'], code: 1, message: /^sysctr: runtime \/nonexistent\/runc does not exist/ },
    { what: 'an image that is nowhere', args: ['--name', 'web2', 'oci:/nonexistent/layout:x'], code: 1, message: /^sysctr: / },
  ];

  for (const c of cases) {
    t.test(c.what, async (t) => {
      c.setup?.();
      const before = snapshot();
      const r = await run(['install', ...c.args]);
      t.equal(r.exitCode, c.code, `exit ${c.code}`);
      t.match(r.stderr, c.message);
      t.equal(r.stderr.split('\n').filter((l) => l.startsWith('sysctr:')).length, 1, 'one error line');
      t.notMatch(r.stderr, /internal error|\n\s+at /, 'no stack trace');
      t.same(snapshot(), before, 'nothing written');
    });
  }
  t.test('--dry-run prints the files and commands and writes nothing', async (t) => {
    const before = snapshot();
    const r = await run(['install', '--dry-run', '--name', 'dry', '--set', 'PORT=9', 'layout:good']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /would write .*units\/dry\.service:\n# Managed by sysctr/);
    t.match(r.stdout, /would write .*units\/dry\.service\.d\/sysctr\.conf:/);
    t.match(r.stdout, /"PORT=9"/);
    t.match(r.stdout, /would run: systemctl daemon-reload\nwould run: systemd-tmpfiles --create .*dry\.conf\nwould run: systemctl enable --no-reload dry\.service/);
    t.same(snapshot(), before, 'nothing written');
  });
  t.test('--user --dry-run: user directories and systemctl --user', async (t) => {
    const home = path.join(dir, 'home');
    const r = await sysctr(['install', '--user', '--dry-run', '--name', 'mine', 'layout:good'], {
      env: { SYSCTR_ROOT: env.SYSCTR_ROOT, HOME: home, XDG_RUNTIME_DIR: '/run/user/1000' },
    });
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, new RegExp(`would write ${home}/\\.config/systemd/user/mine\\.service:`));
    t.match(r.stdout, /"source": "\/run\/user\/1000\/mine"/, 'RUN_DIRECTORY is XDG_RUNTIME_DIR');
    t.match(r.stdout, /would run: systemctl --user daemon-reload/);
    t.match(r.stdout, /would run: systemd-tmpfiles --user --create /);
    t.match(r.stdout, /would run: systemctl --user enable --no-reload mine\.service/);
    t.notOk(fs.existsSync(home), 'nothing written');
  });
}
