/**
 * Tests that need real programs or root: under CI a missing prerequisite fails the test; anywhere
 * else it is skipped loudly, with the reason.
 */
import { execFileSync } from 'node:child_process';
import type { Test } from 'tap';

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

/** Returns true when the test may go on; otherwise fails (CI) or skips loudly. */
export function requirePrereqs(t: Test, tools: string[], needRoot = true): boolean {
  const missing = missingPrereqs(tools, needRoot);
  if (!missing.length) return true;
  const why = `missing prerequisites: ${missing.join(', ')} (run scripts/setup.sh as root)`;
  if (process.env.CI) t.fail(why);
  else {
    process.stderr.write(`\n*** SKIPPING ${t.name}: ${why} ***\n\n`);
    t.skip(why);
  }
  return false;
}

