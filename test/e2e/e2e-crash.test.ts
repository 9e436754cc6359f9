/**
 * Crash safety (journaled steps: docs/design.md), in a systemd booted with systemd-nspawn, with real runc: sysctr is
 * killed (SIGKILL, through SYSCTR_FAULT_STEP) right after each step of install, update, the
 * automatic revert of a failed update, rollback and uninstall. Each time `containers list` must
 * show what is really there (the live deployment's image, the interrupted operation), and the next
 * command for that name must finish the job: the service serving the right version, link, unit,
 * runc container and journal consistent, no temp directory left, and the image's host files
 * (/exports/hostfs, renamed to /etc/NAME) those of the version served - none left behind after an
 * uninstall, no FILE.sysctr-new made up for a file nobody changed.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

// lib/deploy/steps.ts's; the volume steps are no-ops for these images (no volumes): their data
// is checked after each of them by e2e-volumes-crash.test.ts
const STEPS = {
  install: ['journal', 'checkout', 'volumes', 'host-files', 'unit-files', 'info', 'symlink', 'daemon-reload', 'tmpfiles', 'enable', 'start', 'finish'],
  update: ['journal', 'clear-slot', 'checkout', 'volumes', 'stop', 'snapshot', 'host-files', 'unit-files', 'enable', 'symlink', 'daemon-reload', 'tmpfiles', 'start', 'settle', 'finish'],
  'update-revert': ['journal', 'stop', 'restore-data', 'host-files', 'unit-files', 'enable', 'symlink', 'daemon-reload', 'tmpfiles', 'start', 'finish'],
  rollback: ['journal', 'stop', 'restore-data', 'host-files', 'unit-files', 'enable', 'symlink', 'daemon-reload', 'tmpfiles', 'start', 'finish'],
  uninstall: ['journal', 'disable', 'container', 'unit-files', 'daemon-reload', 'tmpfiles', 'host-files', 'symlink', 'deployments', 'volumes', 'finish'],
} as const;
type Op = keyof typeof STEPS;

/** Runs fn over items, `width` at a time (commands wait on systemd and runc more than on the CPU). */
async function pool<T>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

// five operations killed at every step, each then finished: longer than the suite's 600 s per file
// on a loaded machine
t.setTimeout(1_800_000);

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 150_000 }); // a loaded machine boots slowly
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2', 'v3']) {
    // the update fixtures with host files: /etc/hf-crash renamed to /etc/NAME, a rendered template,
    // and a file only v1 has (removed by an update, back with a rollback)
    const src = path.join(m.scratch, `src-${v}`);
    fs.cpSync(path.join(projectDir, `fixtures/images/update-${v}`), src, { recursive: true });
    const hostfs = path.join(src, 'exports/hostfs/etc/hf-crash');
    fs.mkdirSync(hostfs, { recursive: true });
    fs.writeFileSync(path.join(hostfs, 'version.conf'), `${v}\n`);
    fs.writeFileSync(path.join(hostfs, 'name.conf'), 'name=$NAME\n');
    if (v === 'v1') fs.writeFileSync(path.join(hostfs, 'only-v1.conf'), 'v1\n');
    const manifestFile = path.join(src, 'exports/manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as object;
    fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, renameFiles: { '/etc/hf-crash': '/etc/$NAME' }, installedFilesTemplate: ['/etc/hf-crash/name.conf'] }));
    await buildImageWithUmoci(src, layout, v);
  }
  const root = '/var/lib/sysctr-crash';
  const env = { SYSCTR_ROOT: root };
  const sysctr = (args: string[], extra: Record<string, string> = {}) => m.sysctr(args, { ...env, ...extra });
  let port = 8400;

  const version = async (p: number): Promise<string> => {
    for (let i = 0; i < 40; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${p}/version.txt`]);
      if (r.exitCode === 0 && r.stdout.trim()) return r.stdout.trim();
      await new Promise((res) => setTimeout(res, 150));
    }
    return '(no answer)';
  };

  /** What is on disk and in systemd for a name, in one shell call. */
  const look = async (name: string) => {
    const r = await m.sh(
      `readlink ${root}/${name} || echo -; test -e ${root}/.${name}.journal && echo journal || echo -; ` +
        `ls -a ${root} | grep -c "^\\.${name}\\.[01]\\.partial" ; systemctl is-active ${name}.service; runc list -q | grep -cx ${name}; ` +
        `test -e /etc/systemd/system/${name}.service && echo unit || echo -; ` +
        `test -e /etc/${name} && { cat /etc/${name}/version.conf /etc/${name}/name.conf /etc/${name}/only-v1.conf 2>/dev/null | tr '\\n' ' '; ls -A /etc/${name} | grep -c sysctr- ; } | tr '\\n' ' ' || echo -`,
    );
    const [link, journal, partials, active, runc, unit, hostFiles] = r.stdout.split('\n').map((s) => s.trim());
    return { link, journal: journal === 'journal', partials: Number(partials), active, runc: Number(runc), unit: unit === 'unit', hostFiles };
  };

  const listRow = async (name: string) => {
    const r = await sysctr(['containers', 'list', '--all', '--json']);
    return (JSON.parse(r.stdout) as Array<{ name: string; image: string; deployment: string; pending: string | null; state: string }>).find((x) => x.name === name);
  };

  interface Plan {
    setup: (name: string, p: number) => string[][];
    killed: (name: string, p: number) => string[];
    next: (name: string, p: number) => string[];
    /** after the next command: the version served and the live slot, or null: nothing left */
    want: { version: string; link: string } | null;
  }
  // SYSCTR_STOP_MIN_UPTIME=0: the matrix is about steps, not about how soon after a start a stop may signal
  const install = (name: string, p: number) => ['install', '--name', name, '--set', `PORT=${p}`, '--set', 'SYSCTR_STOP_MIN_UPTIME=0', '--now', 'layout:v1'];
  const plans: Record<Op, Plan> = {
    install: { setup: () => [], killed: install, next: install, want: { version: 'v1', link: '.0' } },
    update: {
      setup: (n, p) => [install(n, p)],
      killed: (n) => ['containers', 'update', '--rebase', 'layout:v2', '--settle', '1', n],
      next: (n) => ['containers', 'update', '--rebase', 'layout:v2', '--settle', '1', n],
      want: { version: 'v2', link: '.1' },
    },
    'update-revert': {
      setup: (n, p) => [install(n, p), ['containers', 'update', '--rebase', 'layout:v2', '--settle', '0.5', n]],
      killed: (n) => ['containers', 'update', '--rebase', 'layout:v3', '--settle', '1', n],
      next: (n) => ['containers', 'update', n],
      want: { version: 'v2', link: '.1' },
    },
    rollback: {
      setup: (n, p) => [install(n, p), ['containers', 'update', '--rebase', 'layout:v2', '--settle', '0.5', n]],
      killed: (n) => ['containers', 'rollback', n],
      next: (n) => ['containers', 'rollback', n],
      want: { version: 'v1', link: '.0' },
    },
    uninstall: { setup: (n, p) => [install(n, p)], killed: (n) => ['uninstall', n], next: (n) => ['uninstall', n], want: null },
  };

  t.test('images', async (t) => {
    for (const v of ['v1', 'v2', 'v3']) {
      const r = await sysctr(['pull', `oci:${layout}:${v}`]);
      t.equal(r.exitCode, 0, `pull ${v}: ${r.stderr}`);
    }
  });

  for (const op of Object.keys(STEPS) as Op[]) {
    t.test(`killed after each step of ${op}, then the next command`, async (t) => {
      const plan = plans[op];
      await pool(STEPS[op], 3, async (step) => {
        const name = `k-${op}-${step}`;
        const p = port++;
        const say = (what: string) => `${op}:${step}: ${what}`;
        for (const args of plan.setup(name, p)) {
          const r = await sysctr(args);
          t.equal(r.exitCode, 0, say(`setup ${args.slice(0, 2).join(' ')}: ${r.stderr}`));
        }
        const killed = await sysctr(plan.killed(name, p), { SYSCTR_FAULT_STEP: `${op}:${step}` });
        t.match(killed.stderr, `killing myself after ${op}:${step}`, say('killed there'));
        // containers list right after the crash: what the link says, and the interrupted operation
        const after = await look(name);
        const row = await listRow(name);
        if (after.link === '-') t.notOk(row, say('not listed while there is no link'));
        else {
          t.equal(row?.deployment, after.link, say('list shows the live deployment the link points at'));
          t.equal(row?.pending ?? null, after.journal ? (op === 'update-revert' ? 'update-revert' : op) : null, say('list shows the interrupted operation'));
        }
        const next = await sysctr(plan.next(name, p));
        t.equal(next.exitCode, 0, say(`next command: ${next.stdout} ${next.stderr}`));
        // killed after `finish`, the rollback was complete: running it again rolls back again
        const want = op === 'rollback' && step === 'finish' ? { version: 'v2', link: '.1' } : plan.want;
        const served = want ? await version(p) : '';
        let end = await look(name);
        // the old deployment an update replaced is removed in the background: give it a moment
        for (let i = 0; i < 25 && end.partials; i++) {
          await new Promise((res) => setTimeout(res, 200));
          end = await look(name);
        }
        // A Type=simple unit is `active` as soon as `runc run` is forked, before runc has created
        // the container: right after a start, `runc list` can still be empty. Look again for up to
        // 5 s (the assertions below are unchanged), and say so when it happens.
        for (let i = 0; want && i < 25 && end.runc !== 1; i++) {
          if (i === 0) t.comment(`${op}:${step}: ${end.runc} runc containers with the unit ${end.active}; looking again`);
          await new Promise((res) => setTimeout(res, 200));
          end = await look(name);
        }
        t.notOk(end.journal, say('no journal left'));
        t.equal(end.partials, 0, say('no temp directories left'));
        if (want) {
          t.equal(served, want.version, say('serves the right version'));
          t.equal(end.link, `${name}${want.link}`, say('live deployment'));
          t.equal(end.active, 'active', say('running'));
          t.equal(end.runc, 1, say('one runc container'));
          const row2 = await listRow(name);
          t.equal(row2?.pending, null, say('list: nothing pending'));
          t.equal(row2?.state, 'running', say('list: running'));
          // version, name.conf rendered, only-v1.conf with v1 only, then no temp file or FILE.sysctr-new
          t.equal(end.hostFiles, `${want.version} name=${name} ${want.version === 'v1' ? 'v1 ' : ''}0`, say('host files of the version served'));
          const un = await sysctr(['uninstall', name]);
          t.equal(un.exitCode, 0, say(`uninstall: ${un.stderr}`));
          t.equal((await look(name)).hostFiles, '-', say('uninstall removed the host files and /etc/NAME'));
        } else {
          t.same(end, { link: '-', journal: false, partials: 0, active: 'inactive', runc: 0, unit: false, hostFiles: '-' }, say('nothing left'));
          t.notOk(await listRow(name), say('not listed'));
        }
      });
    });
  }
}
