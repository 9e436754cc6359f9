/**
 * Runs a program in a new user namespace with a given mapping, the way podman and buildah enter
 * theirs: `unshare --user` makes the namespace and waits on a pipe, the setuid newuidmap and
 * newgidmap (Debian's uidmap package) write its maps, and only then does it exec the program. An
 * unprivileged process may map only its own id itself; the subordinate ranges need those helpers,
 * which check /etc/subuid and /etc/subgid.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import type { Socket } from 'node:net';
import { SysctrError } from './errors.js';
import { currentUser, userMappings, type IdMapping, type UserMappings } from './userns.js';

/** newuidmap's arguments after the pid: "inner outer count" for each line. */
function mapArgs(m: IdMapping[]): string[] {
  return m.flatMap((x) => [String(x.containerID), String(x.hostID), String(x.size)]);
}

// Runs after unshare(2): says it is ready on fd 3, waits for "g" once the maps are written, then
// closes fd 3 so the program does not inherit it.
const WAIT_FOR_MAPS = 'printf r >&3 && read -r go <&3 && [ "$go" = g ] && exec 3<&- && exec "$@"';

/** Forwarded to the program while it runs, so that `kill` of sysctr stops the work it started. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * Runs `file args` as id 0 of a user namespace mapped by `mappings`; resolves to its exit status
 * (128 + the signal number when a signal ended it). stdin, stdout and stderr are the caller's.
 */
export function runInUserNamespace(file: string, args: string[], mappings: UserMappings, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--user', '--', 'sh', '-c', WAIT_FOR_MAPS, 'sysctr', file, ...args], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      env,
    });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    for (const s of FORWARDED) process.on(s, forward);
    let failure: SysctrError | undefined;
    const control = child.stdio[3] as unknown as Socket;
    control.on('error', () => undefined);
    control.once('data', () => {
      for (const [helper, m] of [['newuidmap', mappings.uidMappings], ['newgidmap', mappings.gidMappings]] as const) {
        const r = spawnSync(helper, [String(child.pid), ...mapArgs(m)], { encoding: 'utf8' });
        if (r.status !== 0) {
          failure = new SysctrError(`cannot map the user namespace with ${helper}: ${r.error ? r.error.message : r.stderr.trim() || `exit ${r.status}`}`, {
            hint: r.error ? "install Debian's uidmap package (newuidmap, newgidmap)" : 'check your ranges in /etc/subuid and /etc/subgid (subuid(5)): they must be yours and not overlap your own id',
          });
          child.kill('SIGKILL');
          return;
        }
      }
      control.write('g\n');
    });
    child.on('error', (err) => {
      for (const s of FORWARDED) process.off(s, forward);
      reject(new SysctrError(`cannot start unshare(1) for a user namespace: ${err.message}`, { hint: "install Debian's util-linux package" }));
    });
    child.on('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      if (failure) return reject(failure);
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}

/**
 * Runs this sysctr command again, with the same node and arguments, as id 0 of the caller's user
 * namespace (lib/userns.ts userMappings). HOME is passed on: in the namespace the password
 * database would answer for id 0, root. Without `required`, a user with no subordinate ids gets
 * undefined (run the command here) instead of the error.
 */
export async function runSelfInUserNamespace(argv: string[], required = true): Promise<number | undefined> {
  const user = currentUser();
  let mappings: UserMappings;
  try {
    mappings = userMappings(user);
  } catch (err) {
    if (!required && err instanceof SysctrError) return undefined;
    throw err;
  }
  const env = { ...process.env, HOME: process.env.HOME ?? os.homedir(), USER: process.env.USER ?? user.name };
  return runInUserNamespace(process.execPath, [...process.execArgv, process.argv[1], ...argv], mappings, env);
}
