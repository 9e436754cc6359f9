/**
 * One error type for everything a user can cause or fix. `cli/` prints `message` and `hint`
 * (never a stack trace unless --debug); any other exception is a bug and prints its stack.
 */
export class SysctrError extends Error {
  /** process exit status: 1 failure, 2 usage error */
  readonly code: number;
  /** what to do about it, printed after the message */
  readonly hint?: string;

  constructor(message: string, opts: { code?: number; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SysctrError';
    this.code = opts.code ?? 1;
    this.hint = opts.hint;
  }
}

/** A usage error: wrong flag, malformed argument. Exit status 2. */
export function usageError(message: string, hint?: string): SysctrError {
  return new SysctrError(message, { code: 2, hint });
}

/**
 * The code of an error or of an error it wraps (`cause`, or the first of an AggregateError's
 * `errors`): fetch and the writer threads wrap the errno of the call that failed, sometimes twice.
 */
export function errorCodeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause ?? (e as { errors?: unknown[] }).errors?.[0];
  }
  return undefined;
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/**
 * A permission error of the file system (EACCES, EPERM) as a user's error: a plain user naming
 * root's or another user's state root, units or containers. Undefined for anything else.
 */
export function permissionError(err: unknown): SysctrError | undefined {
  const e = err as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  if (!e || typeof e !== 'object' || (e.code !== 'EACCES' && e.code !== 'EPERM') || typeof e.path !== 'string') return undefined;
  const plain = (process.getuid?.() ?? 0) !== 0;
  return new SysctrError(`permission denied: cannot ${e.syscall ?? 'use'} ${e.path}${e.dest ? ` -> ${e.dest}` : ''}`, {
    cause: err,
    hint: plain
      ? "that is another user's or root's: your own containers are under ~/.local/share/containers/sysctr (sysctr --user ...); root's are root's to change"
      : 'check the owner and mode of that path',
  });
}
