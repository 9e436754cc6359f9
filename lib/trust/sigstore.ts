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
