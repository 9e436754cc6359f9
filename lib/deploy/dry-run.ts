/**
 * What update and rollback print under --dry-run instead of writing a host file: "unchanged", the
 * new file, or a unified diff against what is there now (the way `git diff` shows a change).
 */
import fs from 'node:fs';
import { createTwoFilesPatch } from 'diff';

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Says what writing `next` to `file` would change; `next` undefined: the file would be removed.
 * `current` (default: the file's content now) may come from elsewhere, named by `currentName`.
 */
export function describeWrite(out: (line: string) => void, file: string, next: string | undefined, current = readOrUndefined(file), currentName = file): void {
  const against = currentName === file ? '' : ` (against ${currentName})`;
  if (next === undefined) {
    if (current !== undefined) out(`would remove ${file}`);
    return;
  }
  if (current === next) out(`${file}: unchanged${against}`);
  else if (current === undefined) out(`would write ${file}:\n${next.replace(/\n?$/, '\n')}`);
  else {
    // drop jsdiff's "Index:"/"====" lines: from "--- " on it is what `diff -u` prints
    const patch = createTwoFilesPatch(currentName, file, current, next, undefined, undefined, { context: 2 });
    out(`would change ${file}${against}:\n${patch.slice(patch.indexOf('--- ')).replace(/\n?$/, '\n')}`);
  }
}
