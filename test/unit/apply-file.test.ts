/**
 * sysctr apply's declaration files, pure logic (lib/deploy/apply-file.ts, docs/apply.md): the
 * schema, syntax errors and schema violations at FILE:LINE:COL in JSON and YAML, bad names, one
 * name declared twice, and that one bad file refuses the whole directory.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultDeclarationDir, parseDeclaration, readDeclarations } from '../../lib/deploy/apply-file.js';
import { SysctrError } from '../../lib/errors.js';
import { projectDir } from '../helpers/cli.js';

const where = async (file: string, text: string) => (await parseDeclaration(file, text)).problems.map((p) => `${p.line}:${p.col} ${p.message}`);

t.test('the example in docs/fleet/containers.d is valid', async (t) => {
  const d = await readDeclarations(path.join(projectDir, 'docs/fleet/containers.d'));
  t.equal(d.length, 1);
  t.match(d[0], { name: 'greeting', image: 'docker://registry.example.org/greeting:1', autoUpdate: 'registry', now: true, values: { MESSAGE: 'Hello from the fleet' } });
});

t.test('JSON and YAML declare the same container', async (t) => {
  const json = await parseDeclaration('a.json', '{"name": "apply-web", "image": "oci:/l:v1", "values": {"PORT": "8080"}, "enabled": false, "volumes": {"noSnapshot": ["cache"]}}');
  const yaml = await parseDeclaration('a.yaml', 'name: apply-web\nimage: oci:/l:v1\nvalues:\n  PORT: "8080"\nenabled: false\nvolumes:\n  noSnapshot: [cache]\n');
  t.same(json.problems, []);
  t.same(yaml.problems, []);
  const { file: _a, ...j } = json.declared!;
  const { file: _b, ...y } = yaml.declared!;
  t.same(j, y);
  t.same(j, { name: 'apply-web', image: 'oci:/l:v1', values: { PORT: '8080' }, enabled: false, volumes: { noSnapshot: ['cache'] } });
});

t.test('JSON: syntax and schema errors with line and column', async (t) => {
  t.same(await where('x.json', '{\n  "name": "a",\n  "image": "i",\n}'), ['3:15 not valid JSON: trailing comma before "}"']);
  t.same(await where('x.json', '{\n  "name": "a",\n  "image": "i",\n  "values": {"PORT": 8080}\n}'), ['4:22 values.PORT must be string']);
  t.same(await where('x.json', '{\n  "name": "a",\n  "image": "i",\n  "autoupdate": "registry"\n}'), ['4:3 autoupdate is not a known member']);
  t.same(await where('x.json', '{\n  "name": "a",\n  "image": "i",\n  "autoUpdate": "weekly"\n}'), ['4:17 autoUpdate must be one of "registry", "local", "disabled"']);
  t.same(await where('x.json', '{"image": "i"}'), ['1:1 (the document) missing required member "name"']);
  t.same(await where('x.json', '{"name": "a",\n "name": "b", "image": "i"}'), ['2:2 name is given twice']);
});

t.test('YAML: syntax and schema errors with line and column', async (t) => {
  t.match(await where('x.yaml', 'name: a\nimage: [i\n'), [/^3:1 not valid YAML: /]);
  t.same(await where('x.yaml', 'name: a\nimage: i\nvalues:\n  PORT: 8080\n'), ['4:9 values.PORT must be string']);
  t.same(await where('x.yml', 'name: a\nimage: i\nnow: yes please\n'), ['3:6 now must be boolean']);
  t.same(await where('x.yaml', 'name: a\nimage: i\nvolume:\n  noSnapshot: []\n'), ['3:1 volume is not a known member']);
  t.match(await where('x.yaml', 'name: a\nname: b\nimage: i\n'), [/^2:1 not valid YAML: .*unique/i]);
});

t.test('a name that cannot be a container name is refused where it is written', async (t) => {
  t.same(await where('x.json', '{"image": "i",\n  "name": "web/1"}'), ['2:11 container name "web/1" contains "/"']);
  t.match(await where('x.yaml', 'image: i\nname: web.1\n'), [/^2:7 container name "web\.1" ends in/]);
});

t.test('a directory: sorted, other files ignored; one bad file or one name twice refuses all', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apply-decl-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'b.yaml'), 'name: apply-b\nimage: oci:/l:b\n');
  fs.writeFileSync(path.join(dir, 'a.json'), '{"name": "apply-a", "image": "oci:/l:a"}');
  fs.writeFileSync(path.join(dir, 'README.md'), '# not a declaration');
  fs.writeFileSync(path.join(dir, '.a.json.swp'), 'garbage');
  t.same((await readDeclarations(dir)).map((d) => d.name), ['apply-a', 'apply-b']);

  fs.writeFileSync(path.join(dir, 'c.yml'), 'image: oci:/l:c\nname: apply-a\n');
  const dup = await readDeclarations(dir).catch((e: unknown) => e);
  t.type(dup, SysctrError);
  t.match((dup as Error).message, `${path.join(dir, 'c.yml')}:2:7: container "apply-a" is declared in ${path.join(dir, 'a.json')} already`);
  t.match((dup as Error).message, /nothing was applied/);

  fs.writeFileSync(path.join(dir, 'c.yml'), 'name: apply-c\nimage: oci:/l:c\nvalues: {A: 1}\n');
  fs.writeFileSync(path.join(dir, 'd.json'), '{"name": "apply-d"');
  const bad = (await readDeclarations(dir).catch((e: unknown) => e)) as SysctrError;
  t.match(bad.message, /^2 problems in the declarations are not valid, nothing was applied:/);
  t.match(bad.message, `${path.join(dir, 'c.yml')}:3:13: values.A must be string`);
  t.match(bad.message, `${path.join(dir, 'd.json')}:1:`);
  t.match(bad.hint, /docs\/apply\.md/);
});

t.test('a missing directory, a file that is not a declaration; default directories', async (t) => {
  await t.rejects(readDeclarations('/nonexistent/containers.d'), { message: /no such file or directory/, hint: /docs\/apply\.md/ });
  const f = path.join(os.tmpdir(), `apply-decl-${process.pid}.txt`);
  fs.writeFileSync(f, '{}');
  t.teardown(() => fs.rmSync(f, { force: true }));
  await t.rejects(readDeclarations(f), { message: /not a \.json, \.yaml or \.yml file/, code: 2 });
  t.equal(defaultDeclarationDir(false), '/etc/sysctr/containers.d');
  t.equal(defaultDeclarationDir(true, { HOME: '/home/u' }), '/home/u/.config/sysctr/containers.d');
  t.equal(defaultDeclarationDir(true, { HOME: '/home/u', XDG_CONFIG_HOME: '/x' }), '/x/sysctr/containers.d');
});
