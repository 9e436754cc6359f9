/**
 * What a pull records about trust, beside the image in the store: what the policy was asked
 * (subject, the digest the signatures are for), its verdict with the keys that verified, and the
 * signatures themselves (a few hundred bytes each), so that install and update can ask the policy
 * in force then, offline, and refuse an image it no longer accepts.
 */
import type { CollectedSignatures, Verdict } from './evaluate.js';
import type { TrustSubject } from './scope.js';

export interface TrustRecord {
  subject: TrustSubject;
  /** the top-level manifest (or index) digest, as the signatures name it */
  digest: string;
  checked: string;
  verdict: Verdict;
  signatures: { gpg: string[]; sigstore: Array<{ mediaType: string; signature: string; payload: string }> };
}

export function encodeSignatures(s: CollectedSignatures): TrustRecord['signatures'] {
  return {
    gpg: s.gpg.map((b) => b.toString('base64')),
    sigstore: s.sigstore.map((x) => ({ mediaType: x.mediaType, signature: x.signature, payload: x.payload.toString('base64') })),
  };
}

export function decodeSignatures(s: TrustRecord['signatures'] | undefined): CollectedSignatures {
  return {
    gpg: (s?.gpg ?? []).map((b) => Buffer.from(b, 'base64')),
    sigstore: (s?.sigstore ?? []).map((x) => ({ mediaType: x.mediaType, signature: x.signature, payload: Buffer.from(x.payload, 'base64') })),
  };
}

/** One line per requirement, for `images info`, `images verify` and `trust show`. */
export function describeVerdict(v: Verdict): string[] {
  if (!v.policy) return ['no signature policy file: every image is accepted (as skopeo and podman do without one)'];
  const out = [`${v.accepted ? 'accepted' : 'REFUSED'} by ${v.policy}, scope ${v.scope}`];
  v.results.forEach((r, i) => {
    out.push(`  requirement ${i + 1} ${r.type}: ${r.accepted ? 'accepted' : `failed: ${r.reason}`}`);
    for (const s of r.signatures) out.push(`    ${s.kind} signature${s.key ? ` by ${s.key}` : ''}${s.identity ? ` for ${s.identity}` : ''}: ${s.accepted ? 'valid' : s.reason}`);
  });
  return out;
}
