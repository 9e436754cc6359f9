import { SysctrError } from './errors.js';

/** The result of running a host program. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** do not throw on a non-zero exit; the caller inspects exitCode */
  allowFailure?: boolean;
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * How sysctr runs host programs (systemctl, systemd-tmpfiles, runc, ...). One interface so that
 * `--dry-run` prints instead of running, and pure sequencing can be unit-tested by recording calls.
 * The real one is SpawnRunner (lib/systemd/spawn-runner.ts).
 */
export interface Runner {
  run(file: string, args: string[], opts?: RunOptions): Promise<RunResult>;
}

export function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(file: string, args: string[]): string {
  return [file, ...args].map(quoteArg).join(' ');
}

/** systemctl verbs that only ask: a dry run may run them for real to plan with the true state. */
const SYSTEMCTL_QUERIES = new Set(['show', 'is-active', 'is-enabled', 'is-failed', 'list-units']);

function isQuery(file: string, args: string[]): boolean {
  const verb = args.find((a) => !a.startsWith('-'));
  return file === 'systemctl' && verb !== undefined && SYSTEMCTL_QUERIES.has(verb);
}

/**
 * Prints each command instead of running it (--dry-run); reports success. With `queries`, the
 * commands that only ask systemd (isQuery) run for real through it, so that the plan follows the
 * unit's real state (update and rollback print a stop and a start only for a running service).
 */
export class DryRunner implements Runner {
  readonly lines: string[] = [];
  constructor(
    private readonly out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
    private readonly queries?: Runner,
  ) {}
  async run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (this.queries && isQuery(file, args)) return this.queries.run(file, args, opts);
    const line = commandLine(file, args);
    this.lines.push(line);
    this.out(`would run: ${line}`);
    return { exitCode: 0, stdout: '', stderr: '' };
  }
}

/** Records calls and answers from a table: for unit tests of pure sequencing only. */
export class RecordingRunner implements Runner {
  readonly calls: string[][] = [];
  constructor(private readonly answer: (file: string, args: string[]) => Partial<RunResult> = () => ({})) {}
  async run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push([file, ...args]);
    const a = this.answer(file, args);
    const res = { exitCode: a.exitCode ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
    if (res.exitCode !== 0 && !opts.allowFailure) throw new SysctrError(`${commandLine(file, args)} failed (exit ${res.exitCode})`);
    return res;
  }
}
