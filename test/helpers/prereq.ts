/**
 * What a test does when something it needs is not here (root, a program, the compat corpus):
 * under CI a failure, since CI installs everything (scripts/setup.sh); anywhere else a loud skip
 * with the reason, on stderr and in tap's output. `unmet` is the one place that decides it.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Test } from 'tap';

/** CI is set (to anything but "", "0" or "false"). */
export function underCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * Says that the test cannot run because of `why`: fails it under CI, skips it loudly otherwise.
 * Returns false, so a caller can write `if (!ready) return unmet(t, why)`.
 */
export function unmet(t: Test, why: string): false {
  if (underCI()) {
    t.fail(`${why} (under CI every prerequisite must be there)`);
  } else {
    // the file's own tap object is called TAP: name the file instead
    const what = t.parent ? t.name : path.relative(process.cwd(), process.argv[1] ?? t.name);
    process.stderr.write(`\n*** SKIPPING ${what}: ${why} ***\n\n`);
    t.skip(`SKIPPED: ${why}`, () => {});
  }
  return false;
}

export function missingPrereqs(tools: string[], needRoot = true): string[] {
  const missing: string[] = [];
  if (needRoot && process.getuid?.() !== 0) missing.push('root');
  for (const t of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      missing.push(t);
    }
  }
  return missing;
}

/** Returns true when the test may go on; otherwise `unmet` (fails under CI, skips loudly). */
export function requirePrereqs(t: Test, tools: string[], needRoot = true): boolean {
  const missing = missingPrereqs(tools, needRoot);
  if (!missing.length) return true;
  const programs = missing.filter((m) => m !== 'root');
  const todo = [missing.includes('root') ? 'run the tests as root' : '', programs.length ? 'scripts/setup.sh installs the programs' : ''].filter(Boolean).join('; ');
  return unmet(t, `missing prerequisites: ${missing.join(', ')} (${todo})`);
}
