/**
 * `run NAME CMD [ARGS...]`: everything from CMD on belongs to the command, options included
 * (`sysctr run etcd etcdctl --endpoints=URL get k`). yargs would read `--endpoints` as sysctr's, so
 * the command's words are cut off the command line before yargs sees it: sysctr's own options are
 * read only before CMD (before or after NAME), and `--` after NAME marks where CMD starts.
 */
import { hostOptions } from './commands/host-options.js';

export interface RunSplit {
  /** what yargs parses: the command line up to NAME and sysctr's options */
  argv: string[];
  /** the command and its arguments, untouched */
  command: string[];
}

// sysctr's global options (cli/yargs-cli.ts) and run's own (hostOptions): which take a value
const VALUE_OPTIONS = new Set(['--root', ...Object.entries(hostOptions).filter(([, o]) => o.type === 'string').map(([k]) => `--${k}`)]);
const FLAG_OPTIONS = new Set(['--debug', ...Object.entries(hostOptions).filter(([, o]) => o.type === 'boolean').map(([k]) => `--${k}`)]);

/** How many words sysctr's option at argv[i] takes (1 or 2), or 0 when it is not one of sysctr's. */
function optionWidth(argv: string[], i: number): number {
  const a = argv[i];
  const eq = a.indexOf('=');
  const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
  if (VALUE_OPTIONS.has(name)) return eq > 0 || i + 1 >= argv.length ? 1 : 2;
  if (FLAG_OPTIONS.has(name) || (name.startsWith('--no-') && FLAG_OPTIONS.has(`--${name.slice(5)}`))) return 1;
  return 0;
}

/**
 * Splits `[OPTS] run [OPTS] NAME [OPTS] [--] CMD [ARGS...]`. A command line that is not `run`
 * with a command, or holds anything before CMD that is not one of sysctr's options (help, an
 * unknown option), is returned whole, so yargs handles it (help, usage errors) as before.
 */
export function splitRunArgv(argv: string[]): RunSplit {
  const whole = { argv, command: [] };
  let i = 0;
  let seenRun = false;
  let name: number | undefined;
  while (i < argv.length) {
    const a = argv[i];
    if (a === '--') {
      if (name === undefined) return whole;
      return { argv: argv.slice(0, i), command: argv.slice(i + 1) };
    }
    if (a.startsWith('-') && a !== '-') {
      const width = optionWidth(argv, i);
      if (!width) return whole;
      i += width;
      continue;
    }
    if (!seenRun) {
      if (a !== 'run') return whole;
      seenRun = true;
    } else if (name === undefined) name = i;
    else return { argv: argv.slice(0, i), command: argv.slice(i) };
    i++;
  }
  return whole;
}
