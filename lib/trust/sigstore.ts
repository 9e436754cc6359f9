/**
 * Sigstore (cosign) signatures with a public key: each layer of the `sha256-HEX.sig` attachment
 * of type simplesigning carries the payload as its blob and the signature, base64, in the
 * `dev.cosignproject.cosign/signature` annotation: ECDSA (P-256 by default) over SHA-256 of the
 * payload, DER-encoded, as cosign writes it. Checked with Node's crypto.
 */
import crypto from 'node:crypto';
import { SysctrError } from '../errors.js';
import type { LoadedKey } from './keys.js';
import { SignatureRejected } from './gpg.js';

export const SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

/** One layer of a signature attachment, as fetched (nothing verified yet). */
export interface SigstoreSignature {
  mediaType: string;
  /** base64 signature from the annotation ("" when there is none) */
  signature: string;
  payload: Buffer;
}

/** The attachment's tag for a manifest digest: sha256-HEX.sig */
export function attachmentTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** A layer of an attachment manifest, as far as signatures need it. */
export interface AttachmentLayer {
  mediaType: string;
  digest: string;
  signature: string;
}

/** at most this many layers of one attachment are read (a signature each) */
export const MAX_ATTACHMENT_LAYERS = 64;
export const MAX_SIGNATURE_PAYLOAD = 1 << 20;

/**
 * The layers of an attachment manifest (registry tag or layout entry), each with its sha256
 * digest for the payload blob; nothing is verified here but the shape.
 */
export function attachmentLayers(manifest: Buffer, what: string): AttachmentLayer[] {
  let m: { layers?: Array<{ mediaType?: unknown; digest?: unknown; annotations?: Record<string, unknown> }> };
  try {
    m = JSON.parse(manifest.toString('utf8')) as typeof m;
  } catch {
    throw new SysctrError(`${what}: not JSON`);
  }
  if (!Array.isArray(m?.layers)) throw new SysctrError(`${what}: the manifest has no layers`);
  return m.layers.slice(0, MAX_ATTACHMENT_LAYERS).map((l) => {
    if (typeof l?.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(l.digest)) throw new SysctrError(`${what}: a layer has no sha256 digest`);
    const sig: unknown = l.annotations?.[SIGNATURE_ANNOTATION];
    return { mediaType: String(l.mediaType ?? ''), digest: l.digest, signature: typeof sig === 'string' ? sig : '' };
  });
}

function publicKeys(keys: LoadedKey[], scope: string): crypto.KeyObject[] {
  return keys.map((k) => {
    try {
      return crypto.createPublicKey(k.bytes);
    } catch (err) {
      throw new SysctrError(`${scope}: ${k.origin} is not a public key in PEM form: ${(err as Error).message}`, { hint: 'give the cosign.pub file (-----BEGIN PUBLIC KEY-----)' });
    }
  });
}

/** The payload if one of the keys made the signature; throws SignatureRejected otherwise. */
export function verifySigstoreSignature(sig: SigstoreSignature, keys: LoadedKey[], scope: string): { payload: Buffer; key: string } {
  if (sig.mediaType !== SIMPLESIGNING_MEDIA_TYPE) throw new SignatureRejected(`a layer of the attachment has media type ${sig.mediaType}, not ${SIMPLESIGNING_MEDIA_TYPE}`);
  if (!sig.signature) throw new SignatureRejected(`a layer of the attachment has no ${SIGNATURE_ANNOTATION} annotation`);
  const raw = Buffer.from(sig.signature, 'base64');
  const objs = publicKeys(keys, scope);
  for (let i = 0; i < objs.length; i++) {
    let ok = false;
    try {
      ok = crypto.verify('sha256', sig.payload, objs[i], raw);
    } catch {
      ok = false; // a malformed DER signature is a signature that does not verify
    }
    if (ok) return { payload: sig.payload, key: keys[i].origin };
  }
  throw new SignatureRejected(`the signature was not made by any of the trusted keys (${keys.map((k) => k.origin).join(', ')})`);
}
