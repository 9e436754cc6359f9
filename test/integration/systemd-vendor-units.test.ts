/**
 * The names of this host's own vendor units are not free: on the real /lib/systemd/system, with
 * docker-registry.service (scripts/setup.sh installs the package) and systemd's own tmp.conf.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { foreignFiles, searchPaths, unitFilesFor } from '../../lib/systemd/files.js';
import { unmet } from '../helpers/prereq.js';

t.test("this host's vendor units: a container may not shadow them", async (t) => {
  const vendor = '/lib/systemd/system/docker-registry.service';
  if (!fs.existsSync(vendor)) return unmet(t, `${vendor} is missing (scripts/setup.sh installs docker-registry)`);
  const dir = t.testdir({ units: {}, tmpfiles: {} });
  const f = unitFilesFor({ unitDir: path.join(dir, 'units'), tmpfilesDir: path.join(dir, 'tmpfiles') }, 'docker-registry');
  const found = foreignFiles(f, 'docker-registry', { user: false });
  t.equal(found.length, 1, `named once, though /lib and /usr/lib may be one dir: ${found.join(', ')}`);
  t.equal(fs.realpathSync(found[0]), fs.realpathSync(vendor));
  t.ok(searchPaths(false).tmpfiles.includes('/usr/lib/tmpfiles.d'));
  const tmp = unitFilesFor({ unitDir: path.join(dir, 'units'), tmpfilesDir: path.join(dir, 'tmpfiles') }, 'tmp');
  if (fs.existsSync('/usr/lib/tmpfiles.d/tmp.conf')) t.match(foreignFiles(tmp, 'tmp', { user: false }).join(' '), /tmpfiles\.d\/tmp\.conf/, "systemd's own tmp.conf");
});
