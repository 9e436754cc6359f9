/**
 * The ahead-of-time validators (lib/template/schema-validators.generated.ts) match schemas/: the
 * file is what the generator writes today, it is the one in use, and it judges like ajv does.
 * `UPDATE_GENERATED=1 npx tap test/unit/template-schemas.test.ts` rewrites the file after a schema change.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { newAjv, validatorsModuleSource } from '../../lib/template/schemas-codegen.js';
import { usesPrecompiled, validateAgainst } from '../../lib/template/schemas.js';
import { projectDir } from '../helpers/cli.js';

const generated = path.join(projectDir, 'lib/template/schema-validators.generated.ts');

t.test('the generated validators are up to date with schemas/', async (t) => {
  const fresh = validatorsModuleSource(path.join(projectDir, 'schemas'));
  if (process.env.UPDATE_GENERATED) fs.writeFileSync(generated, fresh);
  t.equal(fs.readFileSync(generated, 'utf8'), fresh, 'regenerate: UPDATE_GENERATED=1 npx tap test/unit/template-schemas.test.ts');
  t.ok(usesPrecompiled('runtime-config'));
  t.ok(usesPrecompiled('manifest'));
});

t.test('they judge as ajv compiling the schema now does', async (t) => {
  const ajv = newAjv();
  const samples: Array<['runtime-config' | 'manifest', unknown]> = [
    ['runtime-config', { ociVersion: '1', process: { args: ['/x'], cwd: '/' }, root: { path: 'rootfs' } }],
    ['runtime-config', { ociVersion: '', process: { args: [], cwd: 'x', user: { uid: -1 } }, root: {}, mounts: [{}] }],
    ['runtime-config', { process: { capabilities: ['CAP_KILL'], env: ['NOEQUALS'] }, linux: { namespaces: [{ type: 'bogus' }] } }],
    ['manifest', { defaultValues: { A: 'x' }, useLinks: true }],
    ['manifest', { defaultValues: { A: 1, 'bad name': 'x' }, renameFiles: [] }],
  ];
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  for (const [name, value] of samples) {
    if (!compiled.has(name)) compiled.set(name, ajv.compile(JSON.parse(fs.readFileSync(path.join(projectDir, `schemas/${name}.schema.json`), 'utf8'))));
    const v = compiled.get(name)!;
    const ok = v(value);
    const ours = validateAgainst(name, value);
    t.equal(ours.length === 0, ok, `${name}: ${JSON.stringify(value)}`);
    t.same(new Set(ours.map((o) => o.pointer)), new Set((v.errors ?? []).map((e) => e.instancePath)), 'same places');
  }
});
