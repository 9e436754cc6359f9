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

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
