/** What a deployment operation needs from its caller: where things live, how to run programs, where to print. */
import type { Paths } from '../paths.js';
import type { Runner } from '../proc.js';

export interface DeployContext {
  paths: Paths;
  /** SpawnRunner, or DryRunner for --dry-run */
  runner: Runner;
  /** --dry-run: print files and commands, write nothing */
  dryRun: boolean;
  /** progress and dry-run output (stdout) */
  out: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** warnings (stderr); default: `sysctr: warning: ...` on stderr */
  warn?: (line: string) => void;
}

/** A warning through the caller's printer, or on stderr. */
export function warn(ctx: Pick<DeployContext, 'warn'>, line: string): void {
  if (ctx.warn) ctx.warn(line);
  else process.stderr.write(`sysctr: warning: ${line}\n`);
}
