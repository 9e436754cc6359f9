/**
 * A policy's verdict on one image: the scope that applies, then every requirement of it (all must
 * accept, as in containers/image); a signedBy or sigstoreSigned requirement accepts when at least
 * one signature verifies with its keys, names the manifest being pulled, and names an identity
 * its signedIdentity accepts.
 */
import { SysctrError } from '../errors.js';
import { formatReference } from '../image/reference.js';
import { identityMismatch } from './identity.js';
import { loadKeys } from './keys.js';
import { PayloadError, parseSignedPayload, COSIGN_TYPE, SIMPLE_SIGNING_TYPE } from './payload.js';
import type { Policy, Requirement } from './policy.js';
import { lookupScope, type TrustSubject } from './scope.js';
import { SignatureRejected, verifyGpgSignature } from './gpg.js';
import { attachmentTag, verifySigstoreSignature, type SigstoreSignature } from './sigstore.js';

export interface CollectedSignatures {
  gpg: Buffer[];
  sigstore: SigstoreSignature[];
}

export interface SignatureCheck {
  kind: 'gpg' | 'sigstore';
  accepted: boolean;
  /** the key that made it: a GPG fingerprint or the public key's file */
  key?: string;
  /** the reference the payload names */
  identity?: string;
  reason?: string;
}

export interface RequirementResult {
  type: Requirement['type'];
  accepted: boolean;
  reason?: string;
  signatures: SignatureCheck[];
}

export interface Verdict {
  accepted: boolean;
  /** the policy file, or undefined when there is none */
  policy?: string;
  scope: string;
  results: RequirementResult[];
}

/** Which kinds of signature the scope's requirements need, so only those are fetched. */
export function signaturesNeeded(policy: Policy, s: TrustSubject): { gpg: boolean; sigstore: boolean } {
  const reqs = lookupScope(policy, s).requirements;
  return { gpg: reqs.some((r) => r.type === 'signedBy'), sigstore: reqs.some((r) => r.type === 'sigstoreSigned') };
}

export async function evaluate(policy: Policy, s: TrustSubject, manifestDigest: string, sigs: CollectedSignatures): Promise<Verdict> {
  const scope = lookupScope(policy, s);
  const results: RequirementResult[] = [];
  for (const r of scope.requirements) results.push(await check(r, scope.label, s, manifestDigest, sigs));
  return { accepted: results.every((r) => r.accepted), policy: policy.file, scope: scope.label, results };
}

async function check(r: Requirement, scope: string, s: TrustSubject, digest: string, sigs: CollectedSignatures): Promise<RequirementResult> {
  switch (r.type) {
    case 'insecureAcceptAnything':
      return { type: r.type, accepted: true, signatures: [] };
    case 'reject':
      return { type: r.type, accepted: false, reason: 'the scope rejects every image', signatures: [] };
    case 'signedBaseLayer':
      return { type: r.type, accepted: false, reason: 'signedBaseLayer is not implemented (nor is it in containers/image)', signatures: [] };
  }
  const keys = loadKeys(r, scope);
  const kind = r.type === 'signedBy' ? 'gpg' : 'sigstore';
  const list = kind === 'gpg' ? sigs.gpg : sigs.sigstore;
  const checks: SignatureCheck[] = [];
  for (const sig of list) {
    const c: SignatureCheck = { kind, accepted: false };
    checks.push(c);
    try {
      const v = kind === 'gpg' ? await verifyGpgSignature(sig as Buffer, keys) : verifySigstoreSignature(sig as SigstoreSignature, keys, scope);
      c.key = 'fingerprint' in v ? v.fingerprint : v.key;
      // only now, with the signature known good, is its content read
      const claims = parseSignedPayload(v.payload, kind === 'gpg' ? SIMPLE_SIGNING_TYPE : COSIGN_TYPE);
      c.identity = claims.dockerReference;
      if (claims.manifestDigest !== digest) throw new SignatureRejected(`the signature is for manifest ${claims.manifestDigest}, not ${digest}`);
      const why = identityMismatch(r.signedIdentity, s.reference, claims.dockerReference);
      if (why) throw new SignatureRejected(why);
      c.accepted = true;
    } catch (err) {
      if (err instanceof PayloadError) c.reason = `invalid signed payload: ${err.message}`;
      else if (err instanceof SignatureRejected) c.reason = err.message;
      else throw err;
    }
  }
  if (!checks.length) return { type: r.type, accepted: false, reason: noSignatures(kind, s, digest), signatures: [] };
  const ok = checks.some((c) => c.accepted);
  return { type: r.type, accepted: ok, reason: ok ? undefined : `none of the ${checks.length} signature(s) was accepted: ${checks.map((c) => c.reason).join('; ')}`, signatures: checks };
}

/**
 * Why there is nothing to check, by where signatures could have come from. The local transports'
 * limits are the tools': skopeo 1.9 refuses to write a GPG signature to an oci: or oci-archive:
 * destination, and any signature to a docker-archive (the messages quoted are its own); a
 * sigstore signature is an image of its own, which a layout can hold beside the image.
 */
function noSignatures(kind: 'gpg' | 'sigstore', s: TrustSubject, digest: string): string {
  if (s.transport === 'docker-archive') {
    return 'docker-archive: sources carry no signatures (skopeo: "Storing signatures for docker tar files is not supported", and a docker save archive keeps no annotations, where a sigstore signature is); pull from a registry with a lookaside or sigstore attachments, or from an OCI layout holding the sha256-HEX.sig';
  }
  if (s.transport === 'oci' || s.transport === 'oci-archive') {
    if (kind === 'gpg') return `${s.transport}: sources carry no GPG signatures (skopeo: "Pushing signatures for OCI images is not supported"); use a registry with a lookaside, or sigstore attachments`;
    const tag = attachmentTag(digest);
    return `a sigstore signature is required, but the layout has no ${tag} entry for ${digest} (copy it in beside the image: skopeo copy docker://REPO:${tag} ${s.transport}:PATH:${tag})`;
  }
  if (kind === 'gpg') return 'a GPG signature is required, but the image has none (is the lookaside set in registries.d?)';
  return 'a sigstore signature is required, but the image has none (no sha256-…sig attachment; use-sigstore-attachments must be true in registries.d)';
}

/** What the user reads when an image is refused: which requirement failed, for which scope. */
export function refusal(imageName: string, v: Verdict): SysctrError {
  const failed = v.results.map((r, i) => ({ r, i })).filter(({ r }) => !r.accepted);
  const lines = failed.map(({ r, i }) => `requirement ${i + 1} (${r.type}) of ${v.scope}: ${r.reason}`);
  return new SysctrError(`${imageName}: refused by the signature policy ${v.policy ?? '(none)'}: ${lines.join('; ')}`, {
    hint: 'nothing was stored or changed; see sysctr trust show, and sign the image or change the policy',
  });
}

export function subjectName(s: TrustSubject): string {
  if (s.reference) return formatReference(s.reference);
  return `${s.transport}:${s.path}${s.ref ? `:${s.ref}` : ''}`;
}
