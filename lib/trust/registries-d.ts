/**
 * containers-registries.d(5): where a registry's signatures are kept. Every *.yaml in the
 * directory is read; `docker:` maps a registry or repository (most specific wins) to a
 * `lookaside` (old name `sigstore`) URL and `use-sigstore-attachments`; `default-docker` applies
 * when no entry does. GPG signatures are then read from
 * LOOKASIDE/REPO@sha256=HEX/signature-N (N = 1, 2, ... until one is missing).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { SysctrError, isErrno } from '../errors.js';
import type { ImageReference } from '../image/reference.js';
import { candidateScopes } from './scope.js';

// the YAML parser is loaded only when there is a file to read: most hosts have none, and every pull asks
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);

export interface LookasideConfig {
  lookaside?: string;
  lookasideStaging?: string;
  useSigstoreAttachments?: boolean;
}

export interface RegistriesD {
  dir: string;
  defaultDocker?: LookasideConfig;
  docker: Record<string, LookasideConfig & { file: string }>;
}

function entry(v: unknown, where: string): LookasideConfig {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new SysctrError(`${where}: must be a mapping`);
  const o = v as Record<string, unknown>;
  const url = (k: string) => {
    const u = o[k];
    if (u === undefined) return undefined;
    if (typeof u !== 'string' || !/^(file|https?):\/\//.test(u)) throw new SysctrError(`${where}: ${k} must be a file://, http:// or https:// URL`);
    return u.replace(/\/+$/, '');
  };
  const attach = o['use-sigstore-attachments'];
  if (attach !== undefined && typeof attach !== 'boolean') throw new SysctrError(`${where}: use-sigstore-attachments must be true or false`);
  return {
    lookaside: url('lookaside') ?? url('sigstore'),
    lookasideStaging: url('lookaside-staging') ?? url('sigstore-staging'),
    useSigstoreAttachments: attach as boolean | undefined,
  };
}

export function readRegistriesD(dir: string): RegistriesD {
  const out: RegistriesD = { dir, docker: {} };
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort();
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return out;
    throw new SysctrError(`cannot read ${dir}: ${(err as Error).message}`);
  }
  for (const n of names) {
    const file = path.join(dir, n);
    let doc: unknown;
    try {
      doc = parseYaml(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new SysctrError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new SysctrError(`${file}: must be a mapping`);
    const d = doc as Record<string, unknown>;
    if (d['default-docker'] !== undefined) {
      if (out.defaultDocker) throw new SysctrError(`${file}: default-docker is already set in another file of ${dir}`);
      out.defaultDocker = entry(d['default-docker'], `${file}: default-docker`);
    }
    const docker = d.docker ?? {};
    if (typeof docker !== 'object' || Array.isArray(docker)) throw new SysctrError(`${file}: docker must be a mapping`);
    for (const [scope, v] of Object.entries(docker as Record<string, unknown>)) {
      if (out.docker[scope]) throw new SysctrError(`${file}: docker["${scope}"] is already set in ${out.docker[scope].file}`);
      out.docker[scope] = { ...entry(v, `${file}: docker["${scope}"]`), file };
    }
  }
  return out;
}

/** The entry for a reference: the most specific `docker:` scope, else `default-docker`. */
export function lookasideFor(cfg: RegistriesD, ref: ImageReference): LookasideConfig {
  for (const s of candidateScopes({ transport: 'docker', reference: ref })) if (cfg.docker[s]) return cfg.docker[s];
  return cfg.defaultDocker ?? {};
}

const MAX_SIGNATURE_BYTES = 4 << 20;

/** GPG signatures of `digest` in the lookaside (none when no lookaside is configured). */
export async function readLookasideSignatures(base: string, ref: ImageReference, digest: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const dir = `${base}/${ref.repository}@${digest.replace(':', '=')}`;
  for (let n = 1; n <= 64; n++) {
    const url = `${dir}/signature-${n}`;
    let sig: Buffer | undefined;
    if (url.startsWith('file://')) {
      try {
        sig = fs.readFileSync(decodeURIComponent(new URL(url).pathname));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw new SysctrError(`cannot read the signature ${url}: ${(err as Error).message}`);
      }
    } else {
      let res: Response;
      try {
        res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) });
      } catch (err) {
        throw new SysctrError(`cannot fetch the signature ${url}: ${(err as Error).message}`, { hint: 'check the lookaside URL in registries.d' });
      }
      if (res.status === 404) await res.body?.cancel();
      else if (!res.ok) throw new SysctrError(`cannot fetch the signature ${url}: HTTP ${res.status}`);
      else sig = Buffer.from(await res.arrayBuffer());
    }
    if (!sig) break;
    if (sig.length > MAX_SIGNATURE_BYTES) throw new SysctrError(`the signature ${url} is larger than ${MAX_SIGNATURE_BYTES} bytes`);
    out.push(sig);
  }
  return out;
}
