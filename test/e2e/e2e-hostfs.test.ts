/**
 * Host files (/exports/hostfs) end to end, in a systemd booted with systemd-nspawn, with real runc
 * and the fixture images hostfs-v1/v2 (renameFiles to $CONF_DIRECTORY/$NAME and
 * $BIN_DIRECTORY/$NAME-tool, an installedFilesTemplate, a symlink, an empty directory): the
 * service reads its host-bound configuration, an administrator's edit survives update and
 * rollback, uninstall removes what sysctr wrote and nothing else, a foreign file is refused and
 * taken over with --force.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 150_000 }); // a loaded machine boots slowly
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2']) {
    const src = path.join(m.scratch, `src-${v}`);
    fs.cpSync(path.join(projectDir, `fixtures/images/hostfs-${v}`), src, { recursive: true, verbatimSymlinks: true });
    fs.mkdirSync(path.join(src, 'exports/hostfs/var/lib/hf-data'), { recursive: true }); // git keeps no empty dir
    fs.chmodSync(path.join(src, 'exports/hostfs/var/lib/hf-data'), 0o750);
    await buildImageWithUmoci(src, layout, v);
  }
  const env = { SYSCTR_ROOT: '/var/lib/sysctr-hf' };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  // execa strips the last newline of an output: put it back, so files compare as they are
  const sh = async (script: string) => ((o) => (o ? `${o}\n` : o))((await m.sh(script)).stdout);
  const cat = (file: string) => sh(`cat ${file} 2>/dev/null || echo '(absent)'`);
  const get = async (port: number, file: string): Promise<string> => {
    for (let i = 0; i < 40; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${port}/${file}`]);
      if (r.exitCode === 0 && r.stdout.trim()) return `${r.stdout}\n`;
      await new Promise((res) => setTimeout(res, 150));
    }
    return '(no answer)';
  };
  const bin = '/var/local/hf-bin'; // /usr is read-only in the machine: the tool goes where --set says

  t.test('pull', async (t) => {
    for (const v of ['v1', 'v2']) t.equal((await sysctr(['pull', `oci:${layout}:${v}`])).exitCode, 0);
  });

  t.test('install, the service reads its host files, admin edit, update, rollback, uninstall', async (t) => {
    const port = 8491;
    const before = await sh('ls -d /var/lib /var/local /etc 2>/dev/null');
    const inst = await sysctr(['install', '--name', 'hf-e2e', '--set', `PORT=${port}`, '--set', `BIN_DIRECTORY=${bin}`, '--now', 'layout:v1']);
    t.equal(inst.exitCode, 0, inst.stderr);
    t.equal(await cat('/etc/hf-e2e/app.conf'), '# rendered at install (installedFilesTemplate)\ngreeting=hello from v1\nport=8491\nname=hf-e2e\nprice=$5\n', 'rendered at the renamed path');
    t.equal(await sh(`${bin}/hf-e2e-tool`), 'hf-tool v1\n', 'the renamed tool runs (mode 0755)');
    t.equal(await sh('readlink /etc/hf-e2e/current.conf'), 'app.conf\n', 'symlink');
    t.equal(await sh('stat -c %U:%a /etc/hf-e2e/static.conf /var/lib/hf-data'), 'root:644\nroot:750\n', 'owner root, the image\'s modes');
    t.match(await get(port, 'conf.txt'), 'greeting=hello from v1\nport=8491\nname=hf-e2e\nprice=$5\nstatic v1\n', 'the service read its host-bound config');
    const info = await sysctr(['containers', 'info', 'hf-e2e']);
    t.match(info.stdout, /host files:[\s\S]*\/etc\/hf-e2e\/app\.conf \(from hostfs\/etc\/hf-app\/app\.conf, rendered\)/, 'containers info lists the host files');

    await m.sh('echo "greeting=edited by the admin" > /etc/hf-e2e/app.conf');
    const dry = await sysctr(['containers', 'update', '--dry-run', '--rebase', 'layout:v2', 'hf-e2e']);
    t.equal(dry.exitCode, 0, dry.stderr);
    t.match(dry.stdout, 'would change /etc/hf-e2e/static.conf:\n--- /etc/hf-e2e/static.conf', 'dry-run: host files as diffs');
    t.match(dry.stdout, 'would remove /etc/hf-e2e/only-v1.conf');
    t.equal(await cat('/etc/hf-e2e/static.conf'), 'static v1\n', 'dry-run changed nothing');

    const up = await sysctr(['containers', 'update', '--rebase', 'layout:v2', '--settle', '1', 'hf-e2e']);
    t.equal(up.exitCode, 0, up.stderr);
    t.match(up.stdout, 'warning: /etc/hf-e2e/app.conf was changed since sysctr wrote it: kept; the new version is in /etc/hf-e2e/app.conf.sysctr-new');
    t.equal(await cat('/etc/hf-e2e/app.conf'), 'greeting=edited by the admin\n', 'edited file kept');
    t.match(await cat('/etc/hf-e2e/app.conf.sysctr-new'), 'greeting=hello from v2\n', 'new version beside it');
    t.equal(await cat('/etc/hf-e2e/static.conf'), 'static v2\n', 'unedited file replaced');
    t.equal(await cat('/etc/hf-e2e/only-v1.conf'), '(absent)\n', 'a file v2 does not have is removed');
    t.equal(await cat('/etc/hf-e2e/new-in-v2.conf'), 'new in v2\n');
    t.equal(await sh(`${bin}/hf-e2e-tool`), 'hf-tool v2\n');
    t.equal(await get(port, 'version.txt'), 'v2\n');
    t.equal(await get(port, 'conf.txt'), 'greeting=edited by the admin\nstatic v2\n', 'v2 reads the edited config');

    const rb = await sysctr(['containers', 'rollback', 'hf-e2e']);
    t.equal(rb.exitCode, 0, rb.stderr);
    t.equal(await cat('/etc/hf-e2e/static.conf'), 'static v1\n', 'rollback restored');
    t.equal(await cat('/etc/hf-e2e/only-v1.conf'), 'only in v1\n');
    t.equal(await cat('/etc/hf-e2e/new-in-v2.conf'), '(absent)\n');
    t.equal(await cat('/etc/hf-e2e/app.conf'), 'greeting=edited by the admin\n', 'still the admin\'s');
    t.equal(await get(port, 'version.txt'), 'v1\n');

    const un = await sysctr(['uninstall', 'hf-e2e']);
    t.equal(un.exitCode, 0, un.stderr);
    t.match(un.stdout, 'keeping /etc/hf-e2e/app.conf: it was changed since sysctr wrote it');
    t.equal(await sh('ls -A /etc/hf-e2e'), 'app.conf\n', 'only the edited file is left');
    t.equal(await sh(`test -e ${bin} || test -e /var/lib/hf-data || echo gone`), 'gone\n', 'the directories sysctr created are removed');
    t.equal(await sh('ls -d /var/lib /var/local /etc 2>/dev/null'), before, 'directories that were there before stay, those sysctr made (/var/local here) are gone');
    t.equal(await sh('systemctl is-active hf-e2e.service'), 'inactive\n');
  });

  t.test('a host file that cannot be written (read-only /usr) is refused before anything changes', async (t) => {
    const r = await sysctr(['install', '--name', 'hf-e2r', '--set', 'PORT=8493', 'layout:v1']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /sysctr: cannot install the host file \/usr\/local\/bin\/hf-e2r-tool: \/usr\S* is not writable \(EROFS\)/);
    t.match(r.stderr, 'hint: change the path with --set');
    t.equal(await sh('test -e /etc/hf-e2r || test -e /var/lib/sysctr-hf/hf-e2r || test -e /var/lib/sysctr-hf/.hf-e2r.journal || echo nothing'), 'nothing\n', 'nothing written');
  });

  t.test('a foreign file is refused, nothing changed; --force takes it over', async (t) => {
    await m.sh('mkdir -p /etc/hf-e2f && echo mine > /etc/hf-e2f/static.conf');
    const args = ['install', '--name', 'hf-e2f', '--set', 'PORT=8492', '--set', `BIN_DIRECTORY=${bin}`, '--now', 'layout:v1'];
    const refused = await sysctr(args);
    t.equal(refused.exitCode, 1);
    t.match(refused.stderr, 'sysctr: /etc/hf-e2f/static.conf already exists and was not installed by sysctr');
    t.match(refused.stderr, '--force');
    t.equal(await sh('ls -A /etc/hf-e2f; test -e /var/lib/sysctr-hf/hf-e2f || echo no-deployment; systemctl is-active hf-e2f.service'), 'static.conf\nno-deployment\ninactive\n', 'nothing changed');
    const forced = await sysctr([...args.slice(0, 1), '--force', ...args.slice(1)]);
    t.equal(forced.exitCode, 0, forced.stderr);
    t.match(forced.stdout, 'taking over /etc/hf-e2f/static.conf (--force)');
    t.equal(await cat('/etc/hf-e2f/static.conf'), 'static v1\n');
    t.match(await get(8492, 'conf.txt'), 'static v1\n');
    t.equal((await sysctr(['uninstall', 'hf-e2f'])).exitCode, 0);
    t.equal(await sh('ls -A /etc/hf-e2f'), '', 'removed; the directory was there before and stays');
  });
}
