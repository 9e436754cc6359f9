/**
 * `containers list` without yargs: loading and setting up yargs costs more than the listing itself
 * (issue #4's start-up target). Only the plain spellings below are read here, each as yargs reads
 * it; anything else (help, combined or repeated flags, a value starting with "-", unknown words,
 * usage errors) returns undefined and goes through yargs, so behaviour stays yargs'.
 */
import type { ListArgs } from './commands/containers-list.js';

const FLAGS = new Map<string, ['all' | 'json' | 'quiet' | 'trunc' | 'user' | 'system' | 'debug', boolean]>([
  ['--all', ['all', true]],
  ['-a', ['all', true]],
  ['--json', ['json', true]],
  ['--quiet', ['quiet', true]],
  ['-q', ['quiet', true]],
  ['--trunc', ['trunc', true]],
  ['--no-trunc', ['trunc', false]],
  ['--user', ['user', true]],
  ['--system', ['system', true]],
  ['--debug', ['debug', true]],
]);
const STRINGS = new Map<string, 'root' | 'unit-dir' | 'tmpfiles-dir' | 'filter'>([
  ['--root', 'root'],
  ['--unit-dir', 'unit-dir'],
  ['--tmpfiles-dir', 'tmpfiles-dir'],
  ['--filter', 'filter'],
  ['-f', 'filter'],
]);

/** argv without node and the script: `containers list|ls [options]`, or undefined (ask yargs). */
export function plainListArgs(argv: string[]): ListArgs | undefined {
  if (argv[0] !== 'containers' || (argv[1] !== 'list' && argv[1] !== 'ls')) return undefined;
  const args: ListArgs & { system?: boolean } = { trunc: true };
  const filter: string[] = [];
  const seen = new Set<string>();
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const flag = FLAGS.get(a);
    if (flag) {
      if (seen.has(flag[0])) return undefined;
      seen.add(flag[0]);
      args[flag[0]] = flag[1];
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const key = STRINGS.get(eq > 0 ? a.slice(0, eq) : a);
    if (!key) return undefined;
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      // yargs would read "-x" as the next option and give this one ''
      if (i + 1 >= argv.length || argv[i + 1].startsWith('-')) return undefined;
      value = argv[++i];
    }
    if (key === 'filter') filter.push(value);
    else if (seen.has(key)) return undefined;
    else {
      seen.add(key);
      args[key] = value;
    }
  }
  if (args.user && args.system) return undefined; // yargs: "Arguments system and user are mutually exclusive"
  if (filter.length) args.filter = filter;
  return args;
}
