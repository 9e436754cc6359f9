/** What every command needs: paths from global flags, and error reporting. */
import { permissionError, SysctrError } from '../lib/errors.js';
import { resolvePaths, type Paths } from '../lib/paths.js';

export interface GlobalArgs {
  root?: string;
  debug?: boolean;
  'unit-dir'?: string;
  'tmpfiles-dir'?: string;
  user?: boolean;
  'host-root'?: string;
  'signature-policy'?: string;
  'registries.d'?: string;
  'registries-conf'?: string;
}

export function pathsFrom(args: GlobalArgs): Paths {
  return resolvePaths({ root: args.root, unitDir: args['unit-dir'], tmpfilesDir: args['tmpfiles-dir'], user: args.user, hostRoot: args['host-root'],
    signaturePolicy: args['signature-policy'], registriesDir: args['registries.d'], registriesConf: args['registries-conf'] });
}

/** Prints an error for a user; returns the exit status. Bugs get a stack trace. */
export function reportError(err: unknown, debug: boolean): number {
  err = permissionError(err) ?? err;
  if (err instanceof SysctrError) {
    process.stderr.write(`sysctr: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
    if (debug && err.stack) process.stderr.write(err.stack + '\n');
    return err.code;
  }
  process.stderr.write(`sysctr: internal error (a bug; please report it): ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

/**
 * One failure among several (images update, containers update --all): its message under the name
 * it is about, and its hint, as reportError prints a single one. An unexpected error keeps its stack.
 */
export function reportItemError(name: string, err: unknown): void {
  err = permissionError(err) ?? err;
  if (err instanceof SysctrError) {
    process.stderr.write(`sysctr: ${name}: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
  } else process.stderr.write(`sysctr: ${name}: internal error (a bug; please report it): ${(err as Error)?.stack ?? String(err)}\n`);
}

/** A warning on stderr: `sysctr: warning: ...`. */
export function printWarning(line: string): void {
  process.stderr.write(`sysctr: warning: ${line}\n`);
}
