/** The OCI runtime used when none is given: runc found on PATH, as an absolute path for the unit. */
import fs from 'node:fs';
import path from 'node:path';

export function defaultRuntime(env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, 'runc');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return '/usr/bin/runc';
}
