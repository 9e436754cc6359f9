/** Finding the OCI runtime before anything is written (a missing runtime is a clear error, not a unit that fails later). */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError, usageError } from '../errors.js';

export const DEFAULT_RUNTIME = 'runc';

/** Characters a runtime path may have: it is written unquoted into unit Exec lines. */
const SAFE_PATH = /^[A-Za-z0-9_./+-]+$/;

function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path of the runtime: `--runtime PATH` as given (must exist and be executable), or
 * a bare name (default `runc`) looked up in PATH. Units need an absolute path.
 */
export function resolveRuntime(given: string | undefined, envPath = process.env.PATH ?? ''): string {
  const name = given ?? DEFAULT_RUNTIME;
  if (!SAFE_PATH.test(name)) throw usageError(`--runtime ${JSON.stringify(name)}: a runtime path may only have letters, digits and _ . / + -`);
  if (name.includes('/')) {
    const abs = path.resolve(name);
    if (!fs.existsSync(abs)) {
      throw new SysctrError(`runtime ${abs} does not exist`, { hint: 'give the path of an OCI runtime with --runtime PATH (e.g. /usr/sbin/runc)' });
    }
    if (!isExecutableFile(abs)) throw new SysctrError(`runtime ${abs} is not an executable file`, { hint: 'give the path of an OCI runtime with --runtime PATH' });
    return abs;
  }
  const dirs = [...envPath.split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const candidate = path.join(d, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new SysctrError(`runtime "${name}" not found in PATH`, {
    hint: name === DEFAULT_RUNTIME ? 'install runc (Debian: apt-get install runc) or give one with --runtime PATH' : 'give its full path with --runtime PATH',
  });
}
