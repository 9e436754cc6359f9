/**
 * render and install share one code path: for an image in the store, `sysctr render --out` writes
 * the same bytes that `sysctr install --dry-run` says it would write (config.json, unit with its
 * header, drop-in, tmpfiles conf).
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { buildImage, entriesFromDir, writeOciLayout } from '../helpers/images.js';
import { projectDir, sysctr } from '../helpers/cli.js';
import { requirePrereqs } from '../helpers/prereq.js';

// the store keeps owners (fchown): root only
if (!requirePrereqs(t, [])) process.exit(0);

t.test('render of a stored image equals what install would write', async (t) => {
  const dir = t.testdir({});
  const layout = path.join(dir, 'layout');
  const root = path.join(dir, 'root');
  const image = buildImage({
    layers: [{ entries: entriesFromDir(path.join(projectDir, 'fixtures/lint/clean'), 'exports/') }],
    config: { Cmd: ['/usr/bin/run.sh'] },
  });
  writeOciLayout(layout, [{ image, ref: 'v1' }]);
  const pull = await sysctr(['pull', '--root', root, `oci:${layout}:v1`]);
  t.equal(pull.exitCode, 0, pull.stderr);

  const args = ['--root', root, '--name', 'web', '--set', 'UUID=fixed-uuid', '--set', 'PORT=9999', 'localhost/layout:v1'];
  const out = path.join(dir, 'out');
  const r = await sysctr(['render', '--out', out, ...args]);
  t.equal(r.exitCode, 0, r.stderr);
  const plan = await sysctr(['install', '--dry-run', '--unit-dir', path.join(dir, 'units'), '--tmpfiles-dir', path.join(dir, 'tmpfiles'), ...args]);
  t.equal(plan.exitCode, 0, plan.stderr);

  // "would write PATH:\nCONTENT" blocks, up to the next "would ..." line
  const written = new Map<string, string>();
  const re = /^would write (\S+):\n([\s\S]*?)(?=^would )/gm;
  // printPlan ends each file with a newline, and its output line adds one more
  for (const m of (plan.stdout + '\n').matchAll(re)) written.set(m[1], m[2].replace(/\n$/, ''));
  const pairs: Array<[string, string]> = [
    ['config.json', path.join(root, 'web.0/config.json')],
    ['web.service', path.join(dir, 'units/web.service')],
    ['web.service.d/sysctr.conf', path.join(dir, 'units/web.service.d/sysctr.conf')],
    ['web.conf', path.join(dir, 'tmpfiles/web.conf')],
  ];
  t.same(fs.readdirSync(out, { recursive: true }).map(String).sort(), ['config.json', 'web.conf', 'web.service', 'web.service.d', 'web.service.d/sysctr.conf']);
  for (const [rendered, installed] of pairs) {
    t.ok(written.has(installed), `install writes ${installed}`);
    t.equal(fs.readFileSync(path.join(out, rendered), 'utf8').replace(/\n?$/, '\n'), written.get(installed), `${rendered}: same bytes`);
  }
  t.match(fs.readFileSync(path.join(out, 'config.json'), 'utf8'), '"PORT=9999"');
});
