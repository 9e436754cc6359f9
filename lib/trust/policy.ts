/**
 * containers-policy.json(5), parsed as strictly as containers/image parses it: an unknown or
 * misplaced field, a wrong type, a missing `default` rejects the whole file, and the message names
 * where in the file (a JSON path and its line), so a host's policy means the same to sysctr as to
 * skopeo and podman.
 */
import fs from 'node:fs';
import { SysctrError, isErrno } from '../errors.js';
import { jsonLines, pathKey } from './json-lines.js';
import { validateScope } from './scope.js';

export type SignedIdentity =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

/** Public keys given one of three ways; exactly one is set. */
export interface KeySource {
  keyPath?: string;
  keyPaths?: string[];
  keyData?: string;
}

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | ({ type: 'signedBy'; keyType: 'GPGKeys'; signedIdentity: SignedIdentity } & KeySource)
  | ({ type: 'sigstoreSigned'; signedIdentity: SignedIdentity } & KeySource)
  | { type: 'signedBaseLayer'; baseLayerIdentity: unknown };

export interface Policy {
  /** the file it was read from, or undefined when there is none (accept anything) */
  file?: string;
  default: Requirement[];
  /** transport -> scope -> requirements; "" is the transport's own default */
  transports: Record<string, Record<string, Requirement[]>>;
}

/** Transports containers/image knows: a policy naming another one is refused, as there. */
export const KNOWN_TRANSPORTS = ['docker', 'atomic', 'containers-storage', 'dir', 'docker-archive', 'docker-daemon', 'oci', 'oci-archive', 'ostree', 'sif', 'tarball'];

/** The policy in effect when no file exists: anything is accepted (as skopeo and podman do). */
export function acceptAnythingPolicy(): Policy {
  return { default: [{ type: 'insecureAcceptAnything' }], transports: {} };
}

/**
 * Reads the policy. A missing file is the accept-anything policy unless the file was named
 * explicitly (--signature-policy), which is then an error.
 */
export function readPolicy(file: string, explicit: boolean): Policy {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT') && !explicit) return acceptAnythingPolicy();
    throw new SysctrError(`cannot read the signature policy ${file}: ${(err as Error).message}`, {
      hint: isErrno(err, 'ENOENT') ? 'write one with sysctr trust default accept|reject, or name an existing file' : undefined,
    });
  }
  return parsePolicy(text, file);
}

class Loc {
  constructor(
    readonly file: string,
    private readonly lines: Map<string, number>,
    readonly path: string,
  ) {}
  at(key: string | number): Loc {
    return new Loc(this.file, this.lines, pathKey(this.path, key));
  }
  fail(what: string): never {
    const line = this.lines.get(this.path);
    throw new SysctrError(`invalid signature policy ${this.file}${line ? `:${line}` : ''}: ${this.path || '(top level)'}: ${what}`, {
      hint: 'see containers-policy.json(5); skopeo and podman would refuse this file too',
    });
  }
}

function object(v: unknown, loc: Loc, allowed: string[], required: string[] = []): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) loc.fail(`must be a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) loc.at(k).fail(`unknown field "${k}" (allowed here: ${allowed.join(', ')})`);
  for (const k of required) if (!(k in o)) loc.fail(`field "${k}" is missing`);
  return o;
}

function str(v: unknown, loc: Loc): string {
  if (typeof v !== 'string') loc.fail('must be a string');
  return v as string;
}

export function parsePolicy(text: string, file: string): Policy {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SysctrError(`invalid signature policy ${file}: not JSON (${(err as Error).message})`);
  }
  const { lines, duplicate } = jsonLines(text);
  const top = new Loc(file, lines, '');
  if (duplicate) new Loc(file, new Map([[duplicate.path, duplicate.line]]), duplicate.path).fail('the field appears twice');
  const o = object(raw, top, ['default', 'transports'], ['default']);
  const policy: Policy = { file, default: requirements(o.default, top.at('default')), transports: {} };
  if (o.transports !== undefined) {
    const tl = top.at('transports');
    const t = object(o.transports, tl, Object.keys(o.transports ?? {}));
    for (const [transport, scopes] of Object.entries(t)) {
      const l = tl.at(transport);
      if (!KNOWN_TRANSPORTS.includes(transport)) l.fail(`unknown transport "${transport}" (known: ${KNOWN_TRANSPORTS.join(', ')})`);
      const s = object(scopes, l, Object.keys(scopes ?? {}));
      policy.transports[transport] = {};
      for (const [scope, reqs] of Object.entries(s)) {
        const why = validateScope(transport, scope);
        if (why) l.at(scope).fail(`invalid scope: ${why}`);
        policy.transports[transport][scope] = requirements(reqs, l.at(scope));
      }
    }
  }
  return policy;
}

function requirements(v: unknown, loc: Loc): Requirement[] {
  if (!Array.isArray(v)) loc.fail('must be a list of requirements');
  if (v.length === 0) loc.fail('an empty list of requirements is not allowed (use [{"type": "reject"}] or [{"type": "insecureAcceptAnything"}])');
  return v.map((r, i) => requirement(r, loc.at(i)));
}

function requirement(v: unknown, loc: Loc): Requirement {
  const type = object(v, loc, Object.keys(v ?? {}), ['type']).type;
  switch (type) {
    case 'insecureAcceptAnything':
    case 'reject':
      object(v, loc, ['type']);
      return { type };
    case 'signedBy': {
      const o = object(v, loc, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], ['keyType']);
      if (o.keyType !== 'GPGKeys') loc.at('keyType').fail(`unsupported key type ${JSON.stringify(o.keyType)} (only "GPGKeys")`);
      return { type, keyType: 'GPGKeys', ...keys(o, loc), signedIdentity: identity(o.signedIdentity, loc.at('signedIdentity')) };
    }
    case 'sigstoreSigned': {
      const o = object(v, loc, ['type', 'keyPath', 'keyPaths', 'keyData', 'keyDatas', 'fulcio', 'rekorPublicKeyPath', 'rekorPublicKeyData', 'signedIdentity']);
      for (const k of ['keyDatas', 'fulcio', 'rekorPublicKeyPath', 'rekorPublicKeyData']) {
        if (k in o) loc.at(k).fail(`"${k}" is a containers/image field sysctr does not support yet; use keyPath, keyPaths or keyData`);
      }
      return { type, ...keys(o, loc), signedIdentity: identity(o.signedIdentity, loc.at('signedIdentity')) };
    }
    case 'signedBaseLayer': {
      const o = object(v, loc, ['type', 'baseLayerIdentity'], ['baseLayerIdentity']);
      return { type, baseLayerIdentity: o.baseLayerIdentity };
    }
  }
  return loc.at('type').fail(`unknown requirement type ${JSON.stringify(type)} (insecureAcceptAnything, reject, signedBy, sigstoreSigned, signedBaseLayer)`);
}

function keys(o: Record<string, unknown>, loc: Loc): KeySource {
  const given = ['keyPath', 'keyPaths', 'keyData'].filter((k) => k in o);
  if (given.length !== 1) loc.fail(`exactly one of keyPath, keyPaths and keyData must be set (${given.length ? given.join(' and ') : 'none'} given)`);
  if (o.keyPath !== undefined) return { keyPath: str(o.keyPath, loc.at('keyPath')) };
  if (o.keyData !== undefined) {
    const d = str(o.keyData, loc.at('keyData'));
    if (!/^[A-Za-z0-9+/]*=*$/.test(d) || d.length === 0) loc.at('keyData').fail('must be base64');
    return { keyData: d };
  }
  const l = loc.at('keyPaths');
  if (!Array.isArray(o.keyPaths) || o.keyPaths.length === 0) l.fail('must be a non-empty list of file names');
  return { keyPaths: (o.keyPaths as unknown[]).map((p, i) => str(p, l.at(i))) };
}

function identity(v: unknown, loc: Loc): SignedIdentity {
  if (v === undefined) return { type: 'matchRepoDigestOrExact' };
  const type = object(v, loc, Object.keys(v ?? {}), ['type']).type;
  switch (type) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      object(v, loc, ['type']);
      return { type };
    case 'exactReference': {
      const o = object(v, loc, ['type', 'dockerReference'], ['dockerReference']);
      return { type, dockerReference: str(o.dockerReference, loc.at('dockerReference')) };
    }
    case 'exactRepository': {
      const o = object(v, loc, ['type', 'dockerRepository'], ['dockerRepository']);
      return { type, dockerRepository: str(o.dockerRepository, loc.at('dockerRepository')) };
    }
    case 'remapIdentity': {
      const o = object(v, loc, ['type', 'prefix', 'signedPrefix'], ['prefix', 'signedPrefix']);
      return { type, prefix: str(o.prefix, loc.at('prefix')), signedPrefix: str(o.signedPrefix, loc.at('signedPrefix')) };
    }
  }
  return loc.at('type').fail(`unknown signedIdentity type ${JSON.stringify(type)}`);
}

/** The policy as JSON in the layout containers/image writes (for trust add/default). */
export function serializePolicy(p: Policy): string {
  const out: Record<string, unknown> = { default: p.default };
  if (Object.keys(p.transports).length) out.transports = p.transports;
  return JSON.stringify(out, null, 4) + '\n';
}
