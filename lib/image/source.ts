/**
 * Source strings -> image sources. `TRANSPORT:REST` for the transports sysctr knows; anything
 * else is a registry reference (`REPO[:TAG]`, as `docker://` would be).
 */
import { SysctrError, usageError } from '../errors.js';
import { openDockerArchive } from './docker-archive.js';
import { openOciArchive, openOciLayout } from './oci-layout.js';
import type { ImageSource } from './types.js';

export interface SourceOptions {
  /** USER:PASS for registries */
  creds?: string;
  authFile?: string;
  /** a file holding USER:PASS (`-`: standard input), so the password is not in the command line */
  credsFile?: string;
  /** false allows plain HTTP and unverified TLS */
  tlsVerify?: boolean;
  /** how long a registry may stay silent before a request fails (ms) */
  timeoutMs?: number;
  /** told about each retry of a registry request */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; what: string }) => void;
  /** containers-registries.conf(5) to follow for registry pulls (none: the reference's registry only) */
  registriesConf?: { file: string; explicit: boolean };
}

export type SourceSpec =
  | { transport: 'oci' | 'oci-archive' | 'docker-archive'; path: string; ref?: string }
  | { transport: 'docker'; reference: string; insecure: boolean };

const UNSUPPORTED = ['containers-storage', 'docker-daemon', 'dir', 'ostree', 'sif', 'tarball'];

export function parseSource(spec: string): SourceSpec {
  if (!spec) throw usageError('no image source given');
  const m = /^([a-z][a-z0-9-]*):(.*)$/.exec(spec);
  const scheme = m?.[1];
  const rest = m?.[2] ?? '';
  const pathAndRef = (what: string) => {
    if (!rest) throw usageError(`${what}: no path given`, `write ${what}:PATH[:REF]`);
    const i = rest.indexOf(':');
    return i < 0 ? { path: rest, ref: undefined } : { path: rest.slice(0, i), ref: rest.slice(i + 1) || undefined };
  };
  switch (scheme) {
    case 'oci':
      return { transport: 'oci', ...pathAndRef('oci') };
    case 'oci-archive':
      return { transport: 'oci-archive', ...pathAndRef('oci-archive') };
    case 'docker-archive':
    case 'dockertar':
      return { transport: 'docker-archive', ...pathAndRef(scheme) };
    case 'docker':
      if (!rest.startsWith('//')) throw usageError(`"${spec}": write docker://HOST/REPO[:TAG]`);
      return { transport: 'docker', reference: rest.slice(2), insecure: false };
    case 'http':
      // Atomic's spelling for a registry reached over plain HTTP: http:HOST/REPO:TAG
      return { transport: 'docker', reference: rest.replace(/^\/\//, ''), insecure: true };
  }
  if (scheme && UNSUPPORTED.includes(scheme)) {
    throw new SysctrError(`transport "${scheme}:" is not supported`, { hint: 'use docker://, oci:, oci-archive:, docker-archive: or dockertar:' });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new SysctrError(`unknown transport "${spec.split(':')[0]}:"`, { hint: 'use docker://, oci:, oci-archive:, docker-archive: or dockertar:' });
  }
  return { transport: 'docker', reference: spec, insecure: false };
}

export async function openSource(spec: string, opts: SourceOptions = {}): Promise<ImageSource> {
  const s = parseSource(spec);
  switch (s.transport) {
    case 'oci':
      return openOciLayout(s.path, s.ref, spec);
    case 'oci-archive':
      return openOciArchive(s.path, s.ref, spec);
    case 'docker-archive':
      return openDockerArchive(s.path, s.ref, spec);
    case 'docker':
      return openRegistry(s.reference, s.insecure, opts);
  }
}

async function openRegistry(reference: string, insecure: boolean, opts: SourceOptions): Promise<ImageSource> {
  const { parseReference } = await import('./reference.js');
  let ref;
  try {
    ref = parseReference(reference);
  } catch (err) {
    // A reference that cannot be pulled is a failed pull (exit 1), as the other bad sources are.
    if (err instanceof SysctrError) throw new SysctrError(err.message, { hint: err.hint });
    throw err;
  }
  const { openRegistrySource } = await import('./registry/index.js');
  const { readCredsFile } = await import('./registry/auth.js');
  const creds = opts.credsFile !== undefined ? readCredsFile(opts.credsFile) : opts.creds;
  const ropts = { creds, authFile: opts.authFile, tlsVerify: opts.tlsVerify, insecureHttp: insecure, timeoutMs: opts.timeoutMs, onRetry: opts.onRetry };
  if (opts.registriesConf) {
    const { readRegistriesConf, findRegistry, endpointsFor } = await import('./registries-conf.js');
    const conf = readRegistriesConf(opts.registriesConf.file, { explicit: opts.registriesConf.explicit });
    if (findRegistry(conf, ref)) {
      const { openMirroredSource } = await import('./registry/mirrors.js');
      return openMirroredSource(ref, endpointsFor(conf, ref), ropts);
    }
  }
  return openRegistrySource(ref, ropts);
}

/**
 * A registry reference given as a short name, qualified by registries.conf's
 * unqualified-search-registries (other sources and qualified names unchanged).
 */
export async function qualifySource(spec: string, opts: SourceOptions): Promise<string> {
  const s = parseSource(spec);
  if (s.transport !== 'docker' || !opts.registriesConf) return spec;
  const { readRegistriesConf, qualifyShortName } = await import('./registries-conf.js');
  const conf = readRegistriesConf(opts.registriesConf.file, { explicit: opts.registriesConf.explicit });
  const q = qualifyShortName(s.reference, conf);
  if (q === s.reference) return spec;
  return s.insecure ? `http:${q}` : q;
}
