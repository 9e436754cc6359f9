/**
 * Registry credentials and challenges: where USER:PASS comes from (--creds, the containers
 * auth.json convention, Docker's config.json), parsing `WWW-Authenticate`, and fetching Bearer
 * tokens from the realm a registry names (the distribution token-auth protocol).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SysctrError, usageError } from '../../errors.js';
import { readLimited } from './body.js';
import { httpError, unreachableError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** `USER:PASS` as given to --creds (the password may contain ':'). */
export function parseCreds(creds: string): Credentials {
  const i = creds.indexOf(':');
  if (i <= 0) throw usageError('invalid --creds: expected USER:PASS');
  return { username: creds.slice(0, i), password: creds.slice(i + 1) };
}

/**
 * USER:PASS from a file (`-`: standard input), its first line: for scripts that must not show a
 * password in `ps` or the shell history.
 */
export function readCredsFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read --creds-file ${file}: ${(err as Error).message}`);
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) throw usageError(`--creds-file ${file} is empty`, 'write USER:PASSWORD on its first line');
  return line;
}

/** The auth files searched, in containers-auth.json(5) order, unless one is named. */
export function authFileCandidates(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const files: string[] = [];
  if (env.XDG_RUNTIME_DIR) files.push(path.join(env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  files.push(path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'containers/auth.json'));
  files.push(path.join(env.DOCKER_CONFIG || path.join(home, '.docker'), 'config.json'));
  return files;
}

/** `https://index.docker.io/v1/` and friends name docker.io; otherwise the key is host[/path]. */
function normalizeAuthKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  k = k.replace(/\/v[12]$/, '');
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k;
}

/**
 * Credentials for `registry/repository` from one auth file: the most specific key wins
 * (`host/ns/repo`, then `host/ns`, then `host`). Undefined when the file has none.
 */
export function credentialsFromAuthFile(file: string, registry: string, repository: string): Credentials | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SysctrError(`cannot read auth file ${file}: ${(err as Error).message}`);
  }
  let auths: Record<string, { auth?: string; username?: string; password?: string }>;
  try {
    auths = (JSON.parse(text) as { auths?: typeof auths }).auths ?? {};
  } catch {
    throw new SysctrError(`auth file ${file} is not valid JSON`, { hint: 'fix or remove it, or name another with REGISTRY_AUTH_FILE' });
  }
  const byKey = new Map(Object.entries(auths).map(([k, v]) => [normalizeAuthKey(k), v]));
  const parts = repository.split('/');
  for (let n = parts.length; n >= 0; n--) {
    const key = [registry, ...parts.slice(0, n)].join('/');
    const entry = byKey.get(key);
    if (!entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i <= 0) throw new SysctrError(`auth file ${file}: the "auth" entry for ${key} is not base64 of USER:PASS`);
      return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    }
    if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  }
  return undefined;
}

export function findCredentials(
  registry: string,
  repository: string,
  opts: { creds?: string; authFile?: string; env?: NodeJS.ProcessEnv; home?: string },
): Credentials | undefined {
  if (opts.creds) return parseCreds(opts.creds);
  const files = opts.authFile ? [opts.authFile] : authFileCandidates(opts.env, opts.home);
  for (const f of files) {
    const c = credentialsFromAuthFile(f, registry, repository);
    if (c) return c;
  }
  return undefined;
}

export function basicAuthorization(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

/**
 * Parses `WWW-Authenticate: Bearer realm="...",service="...",scope="..."` (or Basic realm=...).
 * Returns undefined for schemes sysctr does not speak.
 */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2])) !== null) {
    if (p[0] === '') break;
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return { scheme, params };
}

/** Caches Bearer tokens per scope until shortly before they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  get(scope: string): string | undefined {
    const t = this.tokens.get(scope);
    return t && t.expiresAt > Date.now() ? t.token : undefined;
  }

  set(scope: string, token: string, expiresInSeconds: number): void {
    // renew 10 s early; the spec's default lifetime is 60 s
    this.tokens.set(scope, { token, expiresAt: Date.now() + Math.max(1, expiresInSeconds - 10) * 1000 });
  }
}

/** How the registry itself was reached: a token realm may not be less safe than that. */
export interface TokenTransport {
  registryOrigin: string;
  tlsVerify: boolean;
  timeoutMs: number;
}

/** A token answer is a few kB of JSON; this is plenty and bounds what a hostile realm can send. */
const MAX_TOKEN_ANSWER = 1 << 20;

/**
 * Asks the challenge's realm for a token (GET realm?service=...&scope=..., Basic credentials when
 * we have some). `fetchFn` is the client's fetch, so the same TLS settings and timeouts apply.
 * A realm on plain http for a registry reached over verified https is refused: the credentials
 * (and the token) would cross the network in clear text.
 */
export async function fetchBearerToken(
  challenge: Challenge,
  scope: string,
  creds: Credentials | undefined,
  fetchFn: (url: string, init: RequestInit) => Promise<Response>,
  what: string,
  transport: TokenTransport = { registryOrigin: '', tlsVerify: true, timeoutMs: 30_000 },
): Promise<{ token: string; expiresIn: number }> {
  const realm = challenge.params.realm;
  if (!realm) throw new SysctrError(`${what}: the registry asked for a Bearer token but named no realm to get it from`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new SysctrError(`${what}: the registry's token realm "${realm}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SysctrError(`${what}: the registry's token realm "${realm}" is not an http(s) URL; refused`);
  }
  const registryIsTls = transport.registryOrigin.startsWith('https:');
  if (url.protocol === 'http:' && registryIsTls && transport.tlsVerify) {
    throw new SysctrError(
      `${what}: the registry ${transport.registryOrigin} sends clients for a token to ${url.origin}, over plain http; refused (${
        creds ? 'the credentials' : 'the token'
      } would cross the network unencrypted)`,
      { hint: "the registry's token realm (auth.token.realm) must be an https URL; --tls-verify=false accepts it anyway" },
    );
  }
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  if (scope) url.searchParams.set('scope', scope);
  const headers: Record<string, string> = {};
  if (creds) headers.Authorization = basicAuthorization(creds);
  const where = `${url.origin}${url.pathname}`;
  let res: Response;
  try {
    res = await fetchFn(url.toString(), { headers });
  } catch (err) {
    if (err instanceof SysctrError) throw err;
    throw unreachableError(err, url.host, what, {
      tlsVerify: transport.tlsVerify,
      https: url.protocol === 'https:',
      timeoutMs: transport.timeoutMs,
      what: 'the token server',
    });
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new SysctrError(`${what}: the token server ${where} answered with a redirect (HTTP ${res.status}); refused`);
  }
  let body: string;
  try {
    body = (await readLimited(res, MAX_TOKEN_ANSWER, `${what}: token request to ${where}`, 'the answer', transport.timeoutMs)).toString('utf8');
  } catch (err) {
    if (err instanceof SysctrError) throw err;
    throw unreachableError(err, url.host, what, { tlsVerify: transport.tlsVerify, https: url.protocol === 'https:', timeoutMs: transport.timeoutMs, what: 'the token server' });
  }
  if (!res.ok) {
    throw httpError(res.status, body, `${what}: token request to ${where} failed`);
  }
  let j: { token?: string; access_token?: string; expires_in?: number };
  try {
    j = JSON.parse(body) as typeof j;
  } catch {
    throw new SysctrError(`${what}: the token server ${url.origin} answered something that is not JSON`);
  }
  const token = j?.token ?? j?.access_token;
  if (typeof token !== 'string' || !token) throw new SysctrError(`${what}: the token server ${url.origin} answered without a token`);
  if (/[\r\n]/.test(token)) throw new SysctrError(`${what}: the token server ${url.origin} answered a token with a line break; refused`);
  return { token, expiresIn: typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 60 };
}
