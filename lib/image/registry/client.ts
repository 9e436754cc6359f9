/**
 * HTTP to one registry for one repository: picks https or http, authenticates (Basic or Bearer
 * from the 401 challenge), follows redirects itself so that Authorization never leaves the
 * registry's origin, and retries requests that failed before any answer (resets, 5xx, 429).
 */
import { SysctrError } from '../../errors.js';
import type { ImageReference } from '../reference.js';
import { basicAuthorization, fetchBearerToken, findCredentials, parseChallenge, TokenCache, type Challenge, type Credentials } from './auth.js';
import { httpError, isTransientNetworkError, networkErrorMessage, unreachableError } from './errors.js';

export interface RegistryOptions {
  /** USER:PASS */
  creds?: string;
  /** an auth.json / config.json to read instead of the usual places */
  authFile?: string;
  /** false: accept any certificate and fall back to plain http (skopeo's --tls-verify=false) */
  tlsVerify?: boolean;
  /** plain http only (Atomic's `http:` prefix) */
  insecureHttp?: boolean;
  userAgent?: string;
  /** refuse manifests larger than this (default 4 MiB) */
  maxManifestBytes?: number;
  /** attempts after the first for a failed request or a dropped blob stream (default 3) */
  retries?: number;
  /** told before each retry */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; what: string }) => void;
  /** how long a registry may stay silent: connecting, before its headers, between body chunks (default 30 s) */
  timeoutMs?: number;
  /** first backoff delay in ms, doubled on each attempt (default 250) */
  retryDelayMs?: number;
  /** environment for auth file lookup (default process.env) */
  env?: NodeJS.ProcessEnv;
}

/** docker.io's API lives elsewhere. */
function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Seconds a registry may stay silent (connecting, before its headers, between body chunks). */
export const DEFAULT_TIMEOUT_MS = 30_000;

type AgentClass = new (o: unknown) => unknown;
let agentClass: AgentClass | null | undefined;
const dispatchers = new Map<string, unknown>();

/**
 * Node ships undici but does not export it. Its global dispatcher is an undici Agent, created
 * when fetch is first called: a bare `fetch()` creates it (and rejects at once, asking nothing).
 */
function undiciAgent(): AgentClass | undefined {
  if (agentClass === undefined) {
    (fetch as unknown as () => Promise<unknown>)().catch(() => undefined);
    const global = (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')];
    const ctor = (global as { constructor?: AgentClass } | undefined)?.constructor;
    agentClass = ctor && ctor.name === 'Agent' ? ctor : null;
  }
  return agentClass ?? undefined;
}

/**
 * The dispatcher for a client: connect, header and idle-body timeouts (undici's own defaults wait
 * five minutes for each, per attempt), and no certificate checks for --tls-verify=false.
 */
function dispatcherFor(insecure: boolean, timeoutMs: number): unknown {
  const key = `${insecure}:${timeoutMs}`;
  let d = dispatchers.get(key);
  if (!d) {
    const Agent = undiciAgent();
    if (!Agent) return undefined;
    d = new Agent({
      connect: { timeout: timeoutMs, ...(insecure ? { rejectUnauthorized: false } : {}) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    dispatchers.set(key, d);
  }
  return d;
}

export class RegistryClient {
  readonly registry: string;
  readonly repository: string;
  /** for messages: the reference as normalised */
  readonly image: string;
  readonly retries: number;
  private readonly retryDelayMs: number;
  private baseUrl = '';
  private challenge?: Challenge;
  private readonly creds?: Credentials;
  private readonly tokens = new TokenCache();
  private pendingToken?: Promise<string>;
  private readonly tlsVerify: boolean;
  readonly timeoutMs: number;

  constructor(
    ref: ImageReference,
    image: string,
    private readonly opts: RegistryOptions,
  ) {
    this.registry = ref.registry;
    this.repository = ref.repository;
    this.image = image;
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.tlsVerify = opts.tlsVerify !== false && !opts.insecureHttp;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.creds = findCredentials(ref.registry, ref.repository, { creds: opts.creds, authFile: opts.authFile, env: opts.env });
  }

  get origin(): string {
    return this.baseUrl;
  }

  /** Raw fetch with the client's TLS settings; no auth, no redirects followed. */
  rawFetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('User-Agent', this.opts.userAgent ?? 'sysctr');
    const extra: Record<string, unknown> = {};
    const d = dispatcherFor(!this.tlsVerify && url.startsWith('https:'), this.timeoutMs);
    if (d) extra.dispatcher = d;
    return fetch(url, { ...init, headers, redirect: 'manual', ...extra } as RequestInit);
  }

  /**
   * Finds the scheme and the auth challenge with `GET /v2/`. https first; plain http only when
   * allowed, and then only if https could not even connect.
   */
  async ping(): Promise<void> {
    const host = apiHost(this.registry);
    const schemes = this.opts.insecureHttp ? ['http'] : this.tlsVerify ? ['https'] : ['https', 'http'];
    let lastErr: unknown;
    for (const scheme of schemes) {
      const base = `${scheme}://${host}`;
      let res: Response;
      try {
        res = await this.withRetries('ping', () => this.rawFetch(`${base}/v2/`));
      } catch (err) {
        if (err instanceof SysctrError) throw err;
        lastErr = err;
        continue;
      }
      await res.body?.cancel();
      if (res.status === 401) {
        this.challenge = parseChallenge(res.headers.get('www-authenticate'));
      } else if (!res.ok && res.status !== 404) {
        // 404: some registries do not serve /v2/ itself; carry on and let real requests tell
        throw httpError(res.status, '', `registry ${this.registry} (${base}/v2/) for ${this.image}`);
      }
      this.baseUrl = base;
      return;
    }
    throw unreachableError(lastErr, this.registry, this.image, { tlsVerify: this.tlsVerify, https: !this.opts.insecureHttp, timeoutMs: this.timeoutMs });
  }

  private scope(): string {
    return `repository:${this.repository}:pull`;
  }

  /**
   * The Authorization header for the registry origin, fetching a token when the challenge asks.
   * `renew`: a 401 came back with this challenge; get a new token for the scope it names.
   */
  private async authorization(renew?: Challenge): Promise<string | undefined> {
    if (renew) this.challenge = renew;
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return this.creds ? basicAuthorization(this.creds) : undefined;
    const key = this.scope();
    const cached = renew ? undefined : this.tokens.get(key);
    if (cached) return `Bearer ${cached}`;
    // layers are fetched in parallel: they share one token request
    if (!renew && this.pendingToken) return `Bearer ${await this.pendingToken}`;
    const scope = renew?.params.scope ?? key;
    const fetchFn = (u: string, i: RequestInit) => this.withRetries('token', () => this.rawFetch(u, i));
    const transport = { registryOrigin: new URL(this.baseUrl).origin, tlsVerify: this.tlsVerify, timeoutMs: this.timeoutMs };
    const pending = fetchBearerToken(c, scope, this.creds, fetchFn, this.image, transport).then(({ token, expiresIn }) => {
      this.tokens.set(key, token, expiresIn);
      return token;
    });
    this.pendingToken = pending;
    try {
      return `Bearer ${await pending}`;
    } finally {
      if (this.pendingToken === pending) this.pendingToken = undefined;
    }
  }

  /** Retries `op` on connection failures and 5xx/429 answers, with exponential backoff. */
  async withRetries(what: string, op: () => Promise<Response>): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      try {
        const res = await op();
        if (res.status < 500 && res.status !== 429) return res;
        if (attempt >= this.retries) return res;
        reason = `HTTP ${res.status}`;
        await res.body?.cancel();
      } catch (err) {
        if (!isTransientNetworkError(err) || attempt >= this.retries) throw err;
        reason = networkErrorMessage(err, this.timeoutMs);
      }
      const delayMs = this.retryDelayMs * 2 ** attempt;
      this.opts.onRetry?.({ attempt: attempt + 1, delayMs, reason, what });
      await sleep(delayMs);
    }
  }

  /**
   * GET a path under /v2/REPO/ with auth and redirects. Returns the final response whatever its
   * status; network failures that outlast the retries become one-line errors.
   */
  async get(pathUnderRepo: string, headers: Record<string, string>, what: string): Promise<Response> {
    if (!this.baseUrl) await this.ping();
    const first = `${this.baseUrl}/v2/${this.repository}/${pathUnderRepo}`;
    let renewed = false;
    for (;;) {
      const auth = await this.authorization();
      const res = await this.followRedirects(first, headers, auth, what);
      if (res.status === 401 && !renewed) {
        // a registry may answer 401 on the first request (no ping challenge) or want another scope
        const c = parseChallenge(res.headers.get('www-authenticate'));
        if (c && (c.scheme === 'bearer' || (c.scheme === 'basic' && this.creds && !auth))) {
          await res.body?.cancel();
          renewed = true;
          await this.authorization(c);
          continue;
        }
      }
      return res;
    }
  }

  private async followRedirects(url: string, headers: Record<string, string>, auth: string | undefined, what: string): Promise<Response> {
    const registryOrigin = new URL(this.baseUrl).origin;
    let current = url;
    for (let hops = 0; hops <= 10; hops++) {
      const h: Record<string, string> = { ...headers };
      // credentials are for the registry only, never for blob storage elsewhere
      if (auth && new URL(current).origin === registryOrigin) h.Authorization = auth;
      let res: Response;
      try {
        res = await this.withRetries(what, () => this.rawFetch(current, { headers: h }));
      } catch (err) {
        if (err instanceof SysctrError) throw err;
        throw unreachableError(err, new URL(current).host, this.image, {
          tlsVerify: this.tlsVerify,
          https: current.startsWith('https:'),
          timeoutMs: this.timeoutMs,
        });
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        const next = new URL(location, current);
        if (next.protocol === 'http:' && current.startsWith('https:') && this.tlsVerify) {
          throw new SysctrError(`${what}: the registry redirected from https to plain http (${next.origin}); refused`);
        }
        current = next.toString();
        continue;
      }
      return res;
    }
    throw new SysctrError(`${what}: too many redirects`);
  }
}
