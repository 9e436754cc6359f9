/**
 * install racing the store's removals, in a systemd booted with systemd-nspawn: round after round,
 * `sysctr install` of an image while `images delete --force` + `images prune`, or a plain
 * `images delete`, runs at once, started at a different moment of the install each round. Every
 * install either succeeds whole (unit enabled, deployment with its rootfs, its image still in the
 * store) or fails with a clear error (exit 1, one message line, no stack trace) and leaves nothing
 * behind; a plain delete never removes an image an install goes on to use; fsck is clean after
 * every round.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { Machine, requireRealSystemd, type ExecResult } from '../helpers/nspawn.js';

const ROUNDS = 24;
const ROOT = '/var/lib/sysctr-race';
const IMAGE = 'localhost/race-layout:v1';

/** The lines of an error report that are not progress, a warning or a hint: a clear error has one. */
function errorLines(r: ExecResult): string[] {
  return r.stderr.split('\n').filter((l) => l && !/^waiting for /.test(l) && !/^ {2}hint: /.test(l) && !/^sysctr: warning: /.test(l));
}

function clearError(t: Test, r: ExecResult, what: string): void {
  t.equal(r.exitCode, 1, `${what}: exit 1`);
  const lines = errorLines(r);
  t.equal(lines.length, 1, `${what}: one message line: ${r.stderr}`);
  t.match(lines[0] ?? '', /^sysctr: /, `${what}: said as sysctr's message`);
  t.notMatch(r.stderr, /internal error|^\s+at /m, `${what}: no internal error, no stack trace`);
}

// two dozen rounds of several commands each: longer than the suite's 600 s per file on a loaded machine
t.setTimeout(1_800_000);

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 150_000 }); // a loaded machine boots slowly
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'race-layout');
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  const env = { SYSCTR_ROOT: ROOT };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const pull = async () => {
    const r = await sysctr(['pull', '-q', `oci:${layout}:v1`]);
    if (r.exitCode !== 0) throw new Error(`pull failed: ${r.stderr}`);
  };

  // how long an install takes here: the removals start spread over that time
  let installMs = 0;
  await t.test('an install alone', async (t) => {
    await pull();
    const t0 = Date.now();
    const probe = await sysctr(['install', '--name', 'race-probe', IMAGE]);
    installMs = Date.now() - t0;
    t.equal(probe.exitCode, 0, probe.stderr);
    t.equal((await sysctr(['uninstall', 'race-probe'])).exitCode, 0);
  });

  const outcomes = { installed: 0, refused: 0, deleteRefused: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const plain = round % 3 === 2;
    const delayMs = Math.round(((round % 8) / 8) * installMs);
    const name = `race-${round}`;
    await t.test(`round ${round}: install vs ${plain ? 'images delete' : 'images delete --force + prune'} ${delayMs} ms later`, async (t) => {
      await pull();
      const install = sysctr(['install', '--name', name, IMAGE]);
      await new Promise((res) => setTimeout(res, delayMs));
      const del = await sysctr(['images', 'delete', ...(plain ? [] : ['--force']), IMAGE]);
      const prune = plain ? undefined : await sysctr(['images', 'prune']);
      const inst = await install;

      const state = await m.sh(
        `test -L ${ROOT}/${name} && echo link; test -d ${ROOT}/${name}.0 && echo dir; test -e ${ROOT}/.${name}.journal && echo journal; ` +
          `ls -d ${ROOT}/.${name}.* 2>/dev/null | grep partial; test -e /etc/systemd/system/${name}.service && echo unit; ` +
          `test -x ${ROOT}/${name}.0/rootfs/usr/bin/run.sh && echo rootfs; systemctl is-enabled ${name}.service 2>/dev/null`,
      );
      if (inst.exitCode === 0) {
        outcomes.installed++;
        t.match(state.stdout, /link[\s\S]*dir[\s\S]*unit[\s\S]*rootfs[\s\S]*enabled/, `installed whole: ${state.stdout}`);
        t.notMatch(state.stdout, /journal|partial/, 'no journal or partial dir left');
        const info = JSON.parse((await m.exec(['cat', `${ROOT}/${name}.0/info`])).stdout) as { imageId: string };
        const images = JSON.parse((await sysctr(['images', 'list', '--json'])).stdout) as Array<{ name: string; id: string }>;
        t.ok(images.some((i) => i.id === info.imageId), `the deployment's image is still in the store: ${JSON.stringify(images.map((i) => i.name))}`);
        if (plain) {
          clearError(t, del, 'a plain delete of an image being installed');
          t.match(del.stderr, /is used by/, 'the delete says who uses it');
          outcomes.deleteRefused++;
        }
      } else {
        outcomes.refused++;
        clearError(t, inst, 'the install that lost the race');
        t.equal(state.stdout.trim(), '', `nothing of ${name} left: ${state.stdout}`);
      }
      if (del.exitCode !== 0) clearError(t, del, 'images delete');
      else if (plain) t.not(inst.exitCode, 0, 'a plain delete that succeeded came before the install used the image');
      if (prune) t.equal(prune.exitCode, 0, `images prune: ${prune.stderr}`);

      const fsck = await sysctr(['fsck']);
      t.equal(fsck.exitCode, 0, `fsck clean: ${fsck.stdout}${fsck.stderr}`);
      t.match(fsck.stdout, /no problems/);

      if (inst.exitCode === 0) t.equal((await sysctr(['uninstall', name])).exitCode, 0, 'uninstall');
      t.equal((await sysctr(['images', 'prune'])).exitCode, 0);
    });
  }
  t.test('both outcomes were seen', async (t) => {
    t.comment(`install took ${installMs} ms alone; ${JSON.stringify(outcomes)}`);
    t.ok(outcomes.installed > 0, 'some installs won the race');
    t.ok(outcomes.refused > 0, 'some installs lost it');
  });
}
