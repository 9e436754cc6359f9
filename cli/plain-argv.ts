/**
 * Plain command lines without yargs, for the two commands whose start-up is measured: `checkout`
 * and `containers list`. Loading and setting up yargs costs more than listing twenty containers
 * (~60 ms of ~110 ms; BENCHMARKS.md, CLI start-up). Only plain spellings are read here, each as
 * yargs reads it; anything else (help, combined or repeated flags, a value starting with "-",
 * unknown words, usage errors) returns undefined and goes through yargs, so behaviour stays yargs'.
 */
import type { CheckoutArgs } from './commands/checkout.js';
import type { ListArgs } from './commands/containers-list.js';

interface PlainSpec {
  /** the command words; each position lists its spellings */
  words: string[][];
  /** names of the positionals that follow, all required */
  positionals: string[];
  flags: Map<string, [key: string, value: boolean]>;
  strings: Map<string, string>;
  /** string options that may repeat (collected into an array) */
  repeatable?: string[];
}

const GLOBAL_FLAGS: Array<[string, [string, boolean]]> = [['--debug', ['debug', true]]];
const GLOBAL_STRINGS: Array<[string, string]> = [['--root', 'root']];

function parsePlain(spec: PlainSpec, argv: string[]): Record<string, unknown> | undefined {
  if (spec.words.some((spellings, i) => !spellings.includes(argv[i]))) return undefined;
  const args: Record<string, unknown> = {};
  const seen = new Set<string>();
  const positionals: string[] = [];
  for (let i = spec.words.length; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-')) {
      // yargs would turn a word like __proto__ or constructor into a key; numbers stay strings here
      if (positionals.length === spec.positionals.length || a === '__proto__') return undefined;
      positionals.push(a);
      continue;
    }
    const flag = spec.flags.get(a);
    if (flag) {
      if (seen.has(flag[0])) return undefined;
      seen.add(flag[0]);
      args[flag[0]] = flag[1];
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const key = spec.strings.get(eq > 0 ? a.slice(0, eq) : a);
    if (!key) return undefined;
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      // yargs would read "-x" as the next option and give this one ''
      if (i + 1 >= argv.length || argv[i + 1].startsWith('-')) return undefined;
      value = argv[++i];
    }
    if (spec.repeatable?.includes(key)) ((args[key] ??= []) as string[]).push(value);
    else if (seen.has(key)) return undefined;
    else {
      seen.add(key);
      args[key] = value;
    }
  }
  if (positionals.length !== spec.positionals.length) return undefined;
  spec.positionals.forEach((name, i) => (args[name] = positionals[i]));
  return args;
}

const LIST: PlainSpec = {
  words: [['containers'], ['list', 'ls']],
  positionals: [],
  flags: new Map([
    ...GLOBAL_FLAGS,
    ['--all', ['all', true]],
    ['-a', ['all', true]],
    ['--json', ['json', true]],
    ['--quiet', ['quiet', true]],
    ['-q', ['quiet', true]],
    ['--trunc', ['trunc', true]],
    ['--no-trunc', ['trunc', false]],
    ['--user', ['user', true]],
    ['--system', ['system', true]],
  ]),
  strings: new Map([...GLOBAL_STRINGS, ['--unit-dir', 'unit-dir'], ['--tmpfiles-dir', 'tmpfiles-dir'], ['--host-root', 'host-root'], ['--filter', 'filter'], ['-f', 'filter']]),
  repeatable: ['filter'],
};

/** argv without node and the script: `containers list|ls [options]`, or undefined (ask yargs). */
export function plainListArgs(argv: string[]): ListArgs | undefined {
  const args = parsePlain(LIST, argv) as (ListArgs & { system?: boolean }) | undefined;
  if (!args) return undefined;
  if (args.user && args.system) return undefined; // yargs: "Arguments system and user are mutually exclusive"
  args.trunc ??= true;
  return args;
}

const CHECKOUT: PlainSpec = {
  words: [['checkout']],
  positionals: ['image', 'dir'],
  flags: new Map([...GLOBAL_FLAGS, ['--json', ['json', true]]]),
  strings: new Map(GLOBAL_STRINGS),
};

/** argv without node and the script: `checkout IMAGE DIR [--json]`, or undefined (ask yargs). */
export function plainCheckoutArgs(argv: string[]): CheckoutArgs | undefined {
  return parsePlain(CHECKOUT, argv) as CheckoutArgs | undefined;
}
