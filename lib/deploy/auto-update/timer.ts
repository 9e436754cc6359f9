/**
 * sysctr-auto-update.timer + .service (docs/auto-update.md): written in the unit dir when a
 * container has an auto-update policy, removed when none has. Only files that start with sysctr's
 * header line are ever replaced or removed; someone else's file of that name stops the install.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SysctrError, isErrno } from '../../errors.js';
import type { Paths } from '../../paths.js';
import { MANAGED_HEADER } from '../../systemd/managed.js';
import { writeAtomic } from '../../systemd/files.js';
import { renderShipped } from '../../template/mustache.js';
import { warn, type DeployContext } from '../context.js';
import { policies, type AutoUpdatePolicy } from './policy.js';

export const TIMER_UNIT = 'sysctr-auto-update.timer';
export const SERVICE_UNIT = 'sysctr-auto-update.service';

export interface TimerFiles {
  service: string;
  timer: string;
}

export function timerFiles(paths: Pick<Paths, 'unitDir'>): TimerFiles {
  return { service: path.join(paths.unitDir, SERVICE_UNIT), timer: path.join(paths.unitDir, TIMER_UNIT) };
}

/** One ExecStart word: quoted when systemd would split or unquote it. */
function execWord(w: string): string {
  return /^[\w@+=:,./-]+$/.test(w) ? w : `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * This sysctr's entry point, by absolute path: dist/cli/main.js, three levels above this file in
 * dist/ (run from the sources, as the tests do, the same project's dist/cli/main.js).
 */
export function sysctrMain(): string {
  const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const built = path.join(top, 'cli/main.js');
  return fs.existsSync(built) ? built : path.join(top, 'dist/cli/main.js');
}

/**
 * The command the service runs: this node and this sysctr by absolute paths, with the locations
 * this command was given (so the timer updates the containers of the same state root and unit dir).
 */
export function autoUpdateCommand(paths: Paths, o: { node?: string; main?: string } = {}): string[] {
  const args = [o.node ?? process.execPath, o.main ?? sysctrMain(), 'auto-update', '--root', paths.root, '--unit-dir', paths.unitDir, '--tmpfiles-dir', paths.tmpfilesDir];
  if (paths.hostRoot !== '/') args.push('--host-root', paths.hostRoot);
  if (paths.user) args.push('--user');
  if (paths.trust.policyExplicit) args.push('--signature-policy', paths.trust.policy);
  if (paths.registriesConf?.explicit) args.push('--registries-conf', paths.registriesConf.file);
  return args;
}

export function renderTimerFiles(paths: Paths, o: { node?: string; main?: string } = {}): { service: string; timer: string } {
  return {
    service: renderShipped('sysctr-auto-update.service.mustache', { user: paths.user, execStart: autoUpdateCommand(paths, o).map(execWord).join(' ') }),
    timer: renderShipped('sysctr-auto-update.timer.mustache', { randomizedDelay: '1h' }),
  };
}

type Owner = 'absent' | 'sysctr' | 'foreign';

function owner(file: string): Owner {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 'absent';
    throw err;
  }
  return text.startsWith(MANAGED_HEADER) ? 'sysctr' : 'foreign';
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function systemctl(ctx: DeployContext, args: string[], allowFailure = false) {
  return ctx.runner.run('systemctl', [...(ctx.paths.user ? ['--user'] : []), ...args], { allowFailure });
}

export interface TimerResult {
  changed: boolean;
  files: string[];
}

/**
 * Writes both files (when missing or not as this sysctr would write them), reloads systemd and
 * enables and starts the timer. Idempotent: run again it writes nothing (enable --now still runs:
 * a timer someone stopped is started again).
 */
export async function installTimer(ctx: DeployContext): Promise<TimerResult> {
  const f = timerFiles(ctx.paths);
  for (const file of [f.service, f.timer]) {
    if (owner(file) === 'foreign') {
      throw new SysctrError(`${file} already exists and was not written by sysctr`, { hint: 'remove it or move it away, then run: sysctr auto-update --install-timer' });
    }
  }
  const want = renderTimerFiles(ctx.paths);
  const writes = ([[f.service, want.service], [f.timer, want.timer]] as const).filter(([file, text]) => readText(file) !== text);
  for (const [file] of writes) {
    if (ctx.dryRun) ctx.out(`would write ${file}`);
    else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeAtomic(file, writes.find(([w]) => w === file)![1]);
    }
  }
  if (writes.length) await systemctl(ctx, ['daemon-reload']);
  const wasEnabled = (await systemctl(ctx, ['is-enabled', TIMER_UNIT], true)).stdout.trim() === 'enabled';
  const wasActive = (await systemctl(ctx, ['is-active', '--quiet', TIMER_UNIT], true)).exitCode === 0;
  if (writes.length || !wasEnabled || !wasActive) await systemctl(ctx, ['enable', '--now', TIMER_UNIT]);
  return { changed: writes.length > 0 || !wasEnabled || !wasActive, files: [f.service, f.timer] };
}

/** Stops and disables the timer and deletes both files, when they are sysctr's; others' are left alone. */
export async function removeTimer(ctx: DeployContext): Promise<TimerResult> {
  const f = timerFiles(ctx.paths);
  const ours = [f.timer, f.service].filter((file) => owner(file) === 'sysctr');
  for (const file of [f.timer, f.service]) if (owner(file) === 'foreign') warn(ctx, `${file} was not written by sysctr: left as it is`);
  if (!ours.length) return { changed: false, files: [] };
  if (ours.includes(f.timer)) await systemctl(ctx, ['disable', '--now', TIMER_UNIT], true);
  for (const file of ours) {
    if (ctx.dryRun) ctx.out(`would remove ${file}`);
    else fs.rmSync(file, { force: true });
  }
  await systemctl(ctx, ['daemon-reload']);
  return { changed: true, files: ours };
}

/**
 * After a change of policies (install, containers update --auto-update, uninstall): the timer is
 * there while some container has a policy, and gone when none has. A timer that cannot be
 * installed is a warning here: the container's own change is done and stays.
 */
export async function syncTimer(ctx: DeployContext, assume?: { name: string; policy: AutoUpdatePolicy | 'removed' }): Promise<TimerResult> {
  // under --dry-run the change is not on disk yet: `assume` says what it would be
  const now = policies(ctx.paths.root);
  if (assume?.policy === 'removed') now.delete(assume.name);
  else if (assume) now.set(assume.name, assume.policy);
  const any = [...now.values()].some((p) => p !== 'disabled');
  try {
    return any ? await installTimer(ctx) : await removeTimer(ctx);
  } catch (err) {
    if (!(err instanceof SysctrError)) throw err;
    warn(ctx, `the auto-update timer: ${err.message}${err.hint ? ` (${err.hint})` : ''}`);
    return { changed: false, files: [] };
  }
}
