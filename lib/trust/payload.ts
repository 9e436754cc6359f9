/**
 * The signed payloads, parsed strictly and only after their signature was checked: GPG "simple
 * signing" (`atomic container signature`) and cosign's (`cosign container image signature`).
 * `critical` must hold exactly type, image and identity, each with exactly its one field, as
 * containers/image requires; `optional` is informational.
 */
export const SIMPLE_SIGNING_TYPE = 'atomic container signature';
export const COSIGN_TYPE = 'cosign container image signature';

export interface SignedClaims {
  /** critical.image.docker-manifest-digest */
  manifestDigest: string;
  /** critical.identity.docker-reference */
  dockerReference: string;
  /** optional.creator / optional.timestamp, when present */
  creator?: string;
  timestamp?: number;
}

export class PayloadError extends Error {}

function exact(v: unknown, what: string, fields: string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PayloadError(`${what} is not a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!fields.includes(k)) throw new PayloadError(`${what} has an unknown field "${k}"`);
  for (const k of fields) if (!(k in o)) throw new PayloadError(`${what} has no "${k}"`);
  return o;
}

function string(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new PayloadError(`${what} is not a string`);
  return v;
}

export function parseSignedPayload(bytes: Buffer, type: typeof SIMPLE_SIGNING_TYPE | typeof COSIGN_TYPE): SignedClaims {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new PayloadError('the signed payload is not JSON');
  }
  const top = exact(raw, 'the signed payload', ['critical', 'optional']);
  const critical = exact(top.critical, 'critical', ['type', 'image', 'identity']);
  if (critical.type !== type) throw new PayloadError(`critical.type is ${JSON.stringify(critical.type)}, not "${type}"`);
  const image = exact(critical.image, 'critical.image', ['docker-manifest-digest']);
  const identity = exact(critical.identity, 'critical.identity', ['docker-reference']);
  const manifestDigest = string(image['docker-manifest-digest'], 'critical.image.docker-manifest-digest');
  if (!/^sha256:[0-9a-f]{64}$/.test(manifestDigest)) throw new PayloadError(`critical.image.docker-manifest-digest ${JSON.stringify(manifestDigest)} is not a sha256 digest`);
  const claims: SignedClaims = { manifestDigest, dockerReference: string(identity['docker-reference'], 'critical.identity.docker-reference') };
  // cosign writes "optional": null when it has no annotations
  if (top.optional !== null || type === SIMPLE_SIGNING_TYPE) {
    if (typeof top.optional !== 'object' || top.optional === null || Array.isArray(top.optional)) throw new PayloadError('optional is not a JSON object');
    const opt = top.optional as Record<string, unknown>;
    if (opt.creator !== undefined) claims.creator = string(opt.creator, 'optional.creator');
    if (opt.timestamp !== undefined) {
      if (!Number.isInteger(opt.timestamp)) throw new PayloadError('optional.timestamp is not an integer');
      claims.timestamp = opt.timestamp as number;
    }
  }
  return claims;
}
