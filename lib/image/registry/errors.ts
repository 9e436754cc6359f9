/** Turning network failures and registry error bodies into one-line SysctrErrors. */
import { errorCodeOf, SysctrError } from '../../errors.js';

/** The error code of a fetch failure (undici wraps the socket error in `cause`, sometimes twice). */
export const networkErrorCode = errorCodeOf;

const TIMEOUT_TEXT: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'no connection within',
  UND_ERR_HEADERS_TIMEOUT: 'no answer within',
  UND_ERR_BODY_TIMEOUT: 'nothing more received for',
};

/** True when the request gave up waiting (connecting, for headers, or for more of the body). */
export function isTimeout(err: unknown): boolean {
  return (networkErrorCode(err) ?? '') in TIMEOUT_TEXT;
}

/** The deepest message of a fetch failure: undici's own ("fetch failed") says nothing. */
export function networkErrorMessage(err: unknown, timeoutMs?: number): string {
  const code = networkErrorCode(err);
  if (code && code in TIMEOUT_TEXT) {
    return `${TIMEOUT_TEXT[code]} ${timeoutMs ? `${timeoutMs / 1000} s` : 'the timeout'}`;
  }
  let e: unknown = err;
  let msg = String((err as Error)?.message ?? err);
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const m = (e as Error).message;
    if (m && m !== 'fetch failed' && m !== 'terminated') msg = m;
    e = (e as { cause?: unknown }).cause;
  }
  return msg;
}

const TLS_CODES = /^(?:EPROTO|ERR_SSL_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_|UNABLE_TO_GET_ISSUER_CERT)/;

/** True when the failure is a TLS handshake or certificate problem. */
export function isTlsError(err: unknown): boolean {
  const code = networkErrorCode(err) ?? '';
  return TLS_CODES.test(code) || /wrong version number|certificate|SSL routines|TLS/i.test(networkErrorMessage(err));
}

/** True for failures worth retrying: resets, timeouts, a server that went away. */
export function isTransientNetworkError(err: unknown): boolean {
  if (err instanceof SysctrError) return false;
  const code = networkErrorCode(err);
  if (code) return /^(?:ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ECONNABORTED|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|UND_ERR_SOCKET|UND_ERR_.*TIMEOUT)/.test(code);
  // undici's "terminated" (body cut) and a bare "fetch failed" carry no code
  return err instanceof TypeError && /fetch failed|terminated/.test(err.message);
}

/** One line for a request that never got an HTTP answer. */
export function unreachableError(
  err: unknown,
  registry: string,
  image: string,
  opts: { tlsVerify: boolean; https: boolean; timeoutMs?: number; what?: string },
): SysctrError {
  const code = networkErrorCode(err);
  let why: string;
  let hint: string | undefined;
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME') why = `unknown host ${registry.replace(/:\d+$/, '')}`;
  else if (isTimeout(err)) {
    why = networkErrorMessage(err, opts.timeoutMs);
    hint = 'check the host is up and reachable; --timeout SECONDS waits longer for a slow one';
  }
  else if (code === 'ECONNREFUSED') why = 'connection refused';
  else if (opts.https && isTlsError(err)) {
    why = `TLS failed (${networkErrorMessage(err)})`;
    hint = opts.tlsVerify
      ? 'if this registry speaks plain HTTP or has an untrusted certificate (localhost is not trusted automatically), pass --tls-verify=false'
      : undefined;
  } else why = networkErrorMessage(err);
  return new SysctrError(`cannot reach ${opts.what ?? 'registry'} ${registry} for ${image}: ${why}`, { hint, cause: err });
}

/** The registry's own explanation: `errors[0].message` (+ detail) of a distribution error body. */
export function registryErrorText(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { errors?: { code?: string; message?: string; detail?: unknown }[]; error?: string; details?: string };
    const e = j.errors?.[0];
    if (e?.message) return e.message;
    if (e?.code) return e.code.toLowerCase().replace(/_/g, ' ');
    if (typeof j.error === 'string') return j.details ? `${j.error}: ${j.details}` : j.error;
  } catch {
    /* not JSON: fall through */
  }
  const line = body.trim().split('\n')[0]?.trim();
  return line && line.length < 200 && !line.startsWith('<') ? line : undefined;
}

/** One line for an HTTP error answer, naming the reference and the registry's text. */
export function httpError(status: number, body: string, what: string, hint?: string): SysctrError {
  const text = registryErrorText(body);
  const reason =
    status === 401
      ? 'unauthorized'
      : status === 403
        ? 'access denied'
        : status === 404
          ? 'not found'
          : status === 429
            ? 'too many requests'
            : status >= 500
              ? 'registry error'
              : 'request refused';
  const defaultHint =
    status === 401 ? 'give credentials with --creds USER:PASS or an auth file (REGISTRY_AUTH_FILE, ~/.docker/config.json)' : undefined;
  return new SysctrError(`${what}: ${reason}${text ? ` (${text})` : ''} [HTTP ${status}]`, { hint: hint ?? defaultHint });
}
