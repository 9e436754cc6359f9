/**
 * The signature policy at the two places images enter use: a pull asks it before anything is
 * stored (checkAtPull, with signatures fetched from the source and the lookaside), and install,
 * update and `images verify` ask the policy in force then about a stored image
 * (verifyStoredImage, with the signatures the pull recorded, or fetched again).
 */
import path from 'node:path';
import type { TrustPaths } from '../paths.js';
import type { ImageRecord } from '../store/types.js';
import { evaluate, refusal, signaturesNeeded, type CollectedSignatures, type Verdict } from '../trust/evaluate.js';
import { readPolicy } from '../trust/policy.js';
import { decodeSignatures, encodeSignatures, type TrustRecord } from '../trust/record.js';
import { lookasideFor, readLookasideSignatures, readRegistriesD } from '../trust/registries-d.js';
import type { TrustSubject } from '../trust/scope.js';
import { parseReference } from './reference.js';
import { parseSource } from './source.js';
import type { ImageSource } from './types.js';

/** What the policy is asked about for a source string (as pull was given it). */
export function subjectOf(source: string): TrustSubject {
  const s = parseSource(source);
  if (s.transport === 'docker') {
    const ref = parseReference(s.reference);
    return { transport: 'docker', reference: ref.digest || ref.tag ? ref : { ...ref, tag: 'latest' } };
  }
  if (s.transport === 'docker-archive') return { transport: 'docker-archive' };
  return { transport: s.transport, path: path.resolve(s.path), ref: s.ref };
}

/**
 * The signatures of `digest`: GPG ones from the lookaside registries.d names, sigstore ones from
 * the registry's attachment when registries.d enables them. OCI layouts and archives carry only
 * sigstore ones, as the layout's sha256-HEX.sig entry (registries.d, keyed by registry, does not
 * apply); docker-archive carries none (lib/trust/evaluate.ts says why).
 * Fetched when the policy needs them, or when they are there to be read (kept for later checks;
 * a failure to read those then only leaves them out).
 */
async function collect(src: ImageSource | undefined, s: TrustSubject, digest: string, paths: TrustPaths, need: { gpg: boolean; sigstore: boolean }): Promise<CollectedSignatures> {
  const out: CollectedSignatures = { gpg: [], sigstore: [] };
  const soft = async <T>(needed: boolean, f: () => Promise<T>, empty: T): Promise<T> => (needed ? f() : f().catch(() => empty));
  if (s.transport === 'oci' || s.transport === 'oci-archive') {
    if (src?.getSigstoreAttachment) out.sigstore = await soft(need.sigstore, () => src.getSigstoreAttachment!(digest), []);
    return out;
  }
  if (s.transport !== 'docker' || !s.reference) return out;
  const cfg = lookasideFor(readRegistriesD(paths.registriesDir), s.reference);
  if (cfg.lookaside) out.gpg = await soft(need.gpg, () => readLookasideSignatures(cfg.lookaside!, s.reference!, digest), []);
  if (cfg.useSigstoreAttachments && src?.getSigstoreAttachment) out.sigstore = await soft(need.sigstore, () => src.getSigstoreAttachment!(digest), []);
  return out;
}

/** Throws the refusal when the policy does not accept the image; else what to record. */
export async function checkAtPull(src: ImageSource, source: string, digest: string, paths: TrustPaths): Promise<TrustRecord> {
  const policy = readPolicy(paths.policy, paths.policyExplicit);
  const subject = subjectOf(source);
  const sigs = await collect(src, subject, digest, paths, signaturesNeeded(policy, subject));
  const verdict = await evaluate(policy, subject, digest, sigs);
  if (!verdict.accepted) throw refusal(src.description, verdict);
  return { subject, digest, checked: new Date().toISOString(), verdict, signatures: encodeSignatures(sigs) };
}

/**
 * Where to read a layout or archive image's signatures again: the absolute path the pull
 * resolved (the source as written may be relative to where pull ran). undefined: not a layout.
 */
export function layoutSourceOf(rec: ImageRecord): string | undefined {
  const s = trustRecordOf(rec)?.subject ?? storedSubject(rec);
  if ((s.transport !== 'oci' && s.transport !== 'oci-archive') || !s.path) return undefined;
  return `${s.transport}:${s.path}${s.ref ? `:${s.ref}` : ''}`;
}

export function trustRecordOf(rec: ImageRecord): TrustRecord | undefined {
  return rec.trust as TrustRecord | undefined;
}

/**
 * The current policy's verdict on a stored image. `src` given (images verify): signatures are
 * fetched from it again; otherwise those recorded at pull are used.
 */
export async function verifyStoredImage(rec: ImageRecord, paths: TrustPaths, src?: ImageSource): Promise<Verdict> {
  const policy = readPolicy(paths.policy, paths.policyExplicit);
  const t = trustRecordOf(rec);
  const subject = t?.subject ?? storedSubject(rec);
  const digest = t?.digest ?? rec.manifestDigest;
  const sigs = src ? await collect(src, subject, digest, paths, signaturesNeeded(policy, subject)) : decodeSignatures(t?.signatures);
  const verdict = await evaluate(policy, subject, digest, sigs);
  if (!verdict.accepted && !src && !t) {
    for (const r of verdict.results) if (!r.accepted && r.signatures.length === 0 && r.type !== 'reject') r.reason += '; the image was pulled before sysctr kept signatures: pull it again';
  }
  return verdict;
}

/** An image recorded before pulls kept what they asked the policy: from its source, else its name. */
function storedSubject(rec: ImageRecord): TrustSubject {
  for (const f of [() => subjectOf(rec.source), (): TrustSubject => ({ transport: 'docker', reference: parseReference(rec.name) })]) {
    try {
      return f();
    } catch {
      // the next guess
    }
  }
  // neither names a registry: only the transport-independent scopes apply
  return { transport: 'docker-archive' };
}

/** For install and update: the image, or the refusal naming the failed requirement and scope. */
export async function assertStoredImageTrusted(rec: ImageRecord, paths: TrustPaths): Promise<void> {
  const v = await verifyStoredImage(rec, paths);
  if (!v.accepted) throw refusal(rec.name, v);
}
