/** The options of every command that talks to registries (pull, images update). */
export const registryOptions = {
  creds: { type: 'string', describe: 'USER:PASSWORD for the registry (shows in ps: see --creds-file)', conflicts: 'creds-file' },
  'creds-file': { type: 'string', nargs: 1, describe: 'a file whose first line is USER:PASSWORD; - reads it from standard input' },
  authfile: { type: 'string', describe: 'auth.json with registry credentials (env REGISTRY_AUTH_FILE)' },
  'tls-verify': { type: 'boolean', default: true, describe: 'require HTTPS and verify certificates' },
  timeout: { type: 'number', default: 30, describe: 'seconds a registry may stay silent (connecting, answering, sending) before a request fails' },
} as const;

export interface RegistryArgs {
  creds?: string;
  'creds-file'?: string;
  authfile?: string;
  'tls-verify': boolean;
  timeout: number;
}

/** What lib/image/source.ts takes, from the parsed options. */
export function registrySourceOptions(args: RegistryArgs) {
  return {
    creds: args.creds,
    credsFile: args['creds-file'],
    authFile: args.authfile,
    tlsVerify: args['tls-verify'],
    timeoutMs: Math.round(args.timeout * 1000),
  };
}

/** yargs check: a timeout is a positive number of seconds. */
export function checkTimeout(a: { timeout?: unknown }): true | string {
  const t = a.timeout;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 && t <= 86_400 ? true : '--timeout takes a number of seconds above 0 (at most 86400)';
}
