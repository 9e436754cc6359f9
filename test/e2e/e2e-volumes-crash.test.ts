/**
 * Crash safety of the volume steps (docs/volumes.md), in a systemd booted with systemd-nspawn,
 * with real runc: sysctr is killed (SIGKILL, SYSCTR_FAULT_STEP) right after each step around the
 * data - an update's snapshot, the automatic revert's restore, rollback --with-data, backup,
 * restore, install and uninstall --purge - and the next command must finish the job with the
 * data as it should be: the snapshot never retaken after the new version ran, the garbage of a
 * failed version never left, a restore never half done, no temp dir left. The service counts its
 * starts in its data volume, so every expected count below says how often it started.
 */
import t from 'tap';
import path from 'node:path';
import { execa } from 'execa';
import { projectDir } from '../helpers/cli.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';

t.setTimeout(1_500_000);

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

interface Case {
  op: string;
  step: string;
  /** commands before the one killed */
  setup: (n: string) => string[][];
  killed: (n: string) => string[];
  next: (n: string) => string[];
  /** the count afterwards, the live slot, the snapshot's count (undefined: not checked) */
  want: { count: string; link: string; snapshot?: string; volumes?: boolean };
}

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 150_000 });
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2', 'broken']) {
    await buildImageWithUmoci(path.join(projectDir, `fixtures/images/volumes-${v}`), layout, v);
    await execa('umoci', ['config', '--image', `${layout}:${v}`, '--config.user', '10000:10000']);
  }
  const root = '/var/lib/sysctr-volcrash';
  const sysctr = (args: string[], extra: Record<string, string> = {}) => m.sysctr(args, { SYSCTR_ROOT: root, ...extra });
  const sh = async (s: string) => (await m.sh(s)).stdout.trim();
  let port = 8500;

  const update = (img: string) => (n: string) => ['containers', 'update', '--rebase', `layout:${img}`, '--settle', '1', n];
  const backupFile = (n: string) => path.join(m.scratch, `${n}.bk`);
  const cases: Case[] = [];
  for (const step of ['volumes', 'stop', 'snapshot', 'host-files', 'start', 'settle']) {
    // killed after the new version started, the next command restarts it once more
    const count = step === 'start' || step === 'settle' ? '3' : '2';
    cases.push({ op: 'update', step, setup: () => [], killed: update('v2'), next: update('v2'), want: { count, link: '.1', snapshot: '1' } });
  }
  for (const step of ['journal', 'stop', 'restore-data', 'host-files', 'start', 'finish']) {
    const count = step === 'start' ? '3' : '2';
    cases.push({ op: 'update-revert', step, setup: () => [], killed: update('broken'), next: (n) => ['containers', 'update', n], want: { count, link: '.0', snapshot: '1' } });
  }
  for (const step of ['journal', 'stop', 'restore-data', 'host-files', 'start', 'finish']) {
    const count = step === 'start' ? '3' : '2';
    cases.push({
      op: 'rollback', step, setup: (n) => [update('v2')(n)], killed: (n) => ['containers', 'rollback', '--with-data', n],
      // killed after finish, the rollback was complete: the next command only looks
      next: (n) => (step === 'finish' ? ['containers', 'info', n] : ['containers', 'rollback', '--with-data', n]), want: { count, link: '.0', snapshot: '1' },
    });
  }
  for (const step of ['journal', 'stop', 'archive', 'start']) {
    // the next backup stops and starts the service once more; a killed one that had stopped it
    // is started again first (or had started it itself)
    cases.push({ op: 'backup', step, setup: () => [], killed: (n) => ['backup', n, '-o', backupFile(n)], next: (n) => ['backup', n, '-o', backupFile(n)], want: { count: step === 'journal' ? '2' : '3', link: '.0' } });
  }
  for (const step of ['journal', 'stop', 'volumes', 'start']) {
    // backed up at 1; the next restore puts 1 back, then one start
    cases.push({
      op: 'restore', step, setup: (n) => [['backup', n, '-o', backupFile(n)]], killed: (n) => ['restore', '--force', backupFile(n)],
      next: (n) => ['restore', '--force', backupFile(n)], want: { count: '2', link: '.0' },
    });
  }
  cases.push({ op: 'uninstall', step: 'deployments', setup: () => [], killed: (n) => ['uninstall', '--purge', n], next: (n) => ['uninstall', n], want: { count: '', link: '', volumes: false } });
  cases.push({ op: 'uninstall', step: 'volumes', setup: () => [], killed: (n) => ['uninstall', '--purge', n], next: (n) => ['uninstall', n], want: { count: '', link: '', volumes: false } });

  t.test('images', async (t) => {
    for (const v of ['v1', 'v2', 'broken']) t.equal((await sysctr(['pull', `oci:${layout}:${v}`])).exitCode, 0, `pull ${v}`);
  });

  // VOL_CRASH_ONLY=op:step,... runs those cases only (to look at one again)
  const only = process.env.VOL_CRASH_ONLY?.split(',');
  const chosen = only ? cases.filter((c) => only.includes(`${c.op}:${c.step}`)) : cases;
  t.test('killed after each volume step, then the next command', async (t) => {
    await pool(chosen, 3, async (c) => {
      const n = `vol-k-${c.op}-${c.step}`;
      const say = (w: string) => `${c.op}:${c.step}: ${w}`;
      const data = `${root}/volumes/${n}/data`;
      // installed stopped, given its own port, then started: count 1
      const inst = await sysctr(['install', '--name', n, '--set', 'SYSCTR_STOP_MIN_UPTIME=0', 'layout:v1']);
      t.equal(inst.exitCode, 0, say(`install: ${inst.stderr}`));
      await m.sh(`echo ${port++} > ${data}/port && systemctl start ${n}.service`);
      for (let i = 0; i < 50 && (await sh(`cat ${data}/count 2>/dev/null`)) !== '1'; i++) await new Promise((r) => setTimeout(r, 100));
      for (const args of c.setup(n)) {
        const r = await sysctr(args);
        t.equal(r.exitCode, 0, say(`setup ${args.slice(0, 2).join(' ')}: ${r.stderr}`));
      }
      const base = await sh(`cat ${data}/count`);
      const killed = await sysctr(c.killed(n), { SYSCTR_FAULT_STEP: `${c.op}:${c.step}` });
      t.match(killed.stderr, `killing myself after ${c.op}:${c.step}`, say('killed there'));
      const next = await sysctr(c.next(n));
      t.equal(next.exitCode, 0, say(`next command: ${next.stdout} ${next.stderr}`));
      t.equal(await sh(`test -e ${root}/.${n}.journal && echo journal || echo none`), 'none', say('no journal left'));
      // (staging dirs of restores, ROOT/volumes/.restore-*, are looked for once all cases ran)
      const temps = await sh(`ls -A ${root}/volumes/${n} ${root}/volumes 2>/dev/null | grep -E '^\\.(data\\.|snapshot\\.|${n}\\.purge)' || true`);
      t.equal(temps, '', say('no temp dir left'));
      if (c.want.volumes === false) {
        t.equal(await sh(`test -e ${root}/volumes/${n} && echo left || echo gone`), 'gone', say('the volumes are purged'));
        return;
      }
      let count = '';
      for (let i = 0; i < 50; i++) {
        count = await sh(`cat ${data}/count 2>/dev/null`);
        if (c.want.count.startsWith('at least') ? Number(count) >= Number(c.want.count.slice(9)) : count === c.want.count) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      if (c.want.count.startsWith('at least')) t.ok(Number(count) >= Number(c.want.count.slice(9)), say(`count ${count} (from ${base}), ${c.want.count}`));
      else t.equal(count, c.want.count, say(`count (from ${base})`));
      t.equal(await sh(`test -e ${data}/migrated && echo garbage || echo clean`), 'clean', say('nothing of the broken version left'));
      t.equal(await sh(`readlink ${root}/${n}`), `${n}${c.want.link}`, say('live deployment'));
      t.equal(await sh(`systemctl is-active ${n}.service`), 'active', say('running'));
      if (c.want.snapshot) t.equal(await sh(`cat ${root}/volumes/${n}/.snapshot/data/count`), c.want.snapshot, say('the snapshot holds the data as the update found it'));
      // this case's own partial file (cases run three at a time in the same directory)
      if (c.op === 'backup') t.equal(await sh(`ls -A ${m.scratch} | grep -cF '.${n}.bk.partial-' || true`), '0', say('no partial backup file left'));
      if (c.op === 'update-revert') t.comment(`${c.op}:${c.step}: ${killed.stdout} ${killed.stderr} / ${next.stdout}`);
      const un = await sysctr(['uninstall', '--purge', n]);
      t.equal(un.exitCode, 0, say(`uninstall: ${un.stderr}`));
    });
    t.equal(await sh(`ls -A ${root}/volumes | grep -c '^\\.restore-' || true`), '0', 'no restore left a staging dir');
  });
}
