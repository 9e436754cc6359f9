/**
 * Other people's files: which units, drop-ins and tmpfiles confs are sysctr's (its header, or a
 * tmpfiles conf equal to a deployment's copy), and which files of a name anywhere systemd looks a
 * container of that name would shadow. On real files in temp dirs; this host's own vendor units:
 * test/integration/systemd-vendor-units.test.ts.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { foreignFiles, searchPaths, tmpfilesOwner, unitFilesFor, withHeader } from '../../lib/systemd/files.js';

t.test('ownership: header, deployment copy, someone else', async (t) => {
  const dir = t.testdir({ units: {}, tmpfiles: {}, vendor: { 'vend.service': '[Unit]\n', 'vend.conf': 'd /x\n' } });
  const f = unitFilesFor({ unitDir: path.join(dir, 'units'), tmpfilesDir: path.join(dir, 'tmpfiles') }, 'web');
  const none = { units: [], tmpfiles: [] };
  t.same(foreignFiles(f, 'web', { user: false, searchPaths: none }), [], 'nothing there');
  fs.writeFileSync(f.unit, withHeader('web', '[Unit]\n'));
  fs.mkdirSync(f.dropInDir);
  fs.writeFileSync(f.dropIn, '# Managed by sysctr for container web: ...\n');
  fs.writeFileSync(f.tmpfiles, 'd /var/lib/web 0700 - - - -\n');
  t.same(foreignFiles(f, 'web', { user: false, searchPaths: none, copies: ['d /var/lib/web 0700 - - - -\n'] }), [], "sysctr's own files (the conf as a deployment has it)");
  fs.writeFileSync(f.tmpfiles, 'd /var/lib/web 0700 - - - -\n');
  t.equal(tmpfilesOwner(f), 'foreign', 'an administrator-written conf');
  t.equal(tmpfilesOwner(f, ['d /var/lib/web 0700 - - - -\n']), 'sysctr', 'one sysctr wrote before the header: equal to a deployment copy');
  fs.writeFileSync(f.unit, '[Unit]\nDescription=mine\n');
  fs.writeFileSync(f.dropIn, '[Service]\nEnvironment=A=1\n');
  fs.rmSync(f.tmpfiles);
  fs.symlinkSync('/dev/null', f.tmpfiles);
  t.same(foreignFiles(f, 'web', { user: false, searchPaths: none }), [f.unit, f.dropIn, f.tmpfiles], 'each foreign file named (a masking symlink too)');
  const vendor = { units: [path.join(dir, 'vendor')], tmpfiles: [path.join(dir, 'vendor')] };
  const g = unitFilesFor({ unitDir: path.join(dir, 'units'), tmpfilesDir: path.join(dir, 'tmpfiles') }, 'vend');
  t.same(foreignFiles(g, 'vend', { user: false, searchPaths: vendor }), [path.join(dir, 'vendor/vend.service'), path.join(dir, 'vendor/vend.conf')], 'a vendor unit and conf of that name');
});
