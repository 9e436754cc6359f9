/**
 * Signatures made at test time by the real tools: GPG keys from `gpg --quick-gen-key` in a home
 * of their own, simple signing by `skopeo copy --sign-by` into a file:// lookaside, and cosign-style
 * signatures (ECDSA P-256 over the payload, Node's crypto) pushed as the `sha256-HEX.sig`
 * attachment through the registry's own API.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

export interface GpgKey {
  fingerprint: string;
  /** armored public key file */
  publicKey: string;
}

/** A new signing key in `home` (a GNUPGHOME), its public key exported to `home/NAME.asc`. */
export async function makeGpgKey(home: string, name: string): Promise<GpgKey> {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const env = { GNUPGHOME: home };
  const uid = `${name} <${name}@trust.test>`;
  await execa('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env });
  const colons = (await execa('gpg', ['--batch', '--with-colons', '--list-keys', uid], { env })).stdout;
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1];
  const publicKey = path.join(home, `${name}.asc`);
  fs.writeFileSync(publicKey, (await execa('gpg', ['--batch', '--armor', '--export', fingerprint], { env })).stdout + '\n');
  return { fingerprint, publicKey };
}

/** A registries.d directory whose default-docker lookaside (and staging) is `lookasideDir`. */
export function writeRegistriesD(dir: string, lookasideDir: string, o: { attachments?: boolean } = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const lines = ['default-docker:', `  lookaside: file://${lookasideDir}`, `  lookaside-staging: file://${lookasideDir}`];
  if (o.attachments) lines.push('  use-sigstore-attachments: true');
  fs.writeFileSync(path.join(dir, 'default.yaml'), lines.join('\n') + '\n');
}

/** skopeo copy oci:LAYOUT:TAG docker://DEST, signed by `fpr` when given (the signature goes to the lookaside). */
export async function pushSigned(layout: string, tag: string, dest: string, o: { gnupgHome: string; registriesD: string; fpr?: string }): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false', '--registries.d', o.registriesD];
  if (o.fpr) args.push('--sign-by', o.fpr);
  args.push(`oci:${layout}:${tag}`, `docker://${dest}`);
  await execa('skopeo', args, { env: { GNUPGHOME: o.gnupgHome } });
}

/** The lookaside file of signature N of REPO@DIGEST (as containers/image lays it out). */
export function lookasideFile(lookasideDir: string, repository: string, digest: string, n = 1): string {
  return path.join(lookasideDir, `${repository}@${digest.replace(':', '=')}`, `signature-${n}`);
}

/** A GPG signed message over `payload` (what skopeo writes, but with any content). */
export async function gpgSign(gnupgHome: string, fpr: string, payload: Buffer): Promise<Buffer> {
  const r = await execa('gpg', ['--batch', '--local-user', fpr, '--sign', '--output', '-'], { env: { GNUPGHOME: gnupgHome }, input: payload, encoding: 'buffer' });
  return Buffer.from(r.stdout);
}

/** A simple-signing payload as skopeo writes it; `extra` adds fields to `critical`. */
export function simpleSigningPayload(ref: string, digest: string, type = 'atomic container signature', extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': ref }, image: { 'docker-manifest-digest': digest }, type, ...extra }, optional: { creator: 'sysctr test', timestamp: 1700000000 } }));
}

export interface CosignKey {
  privateKey: crypto.KeyObject;
  /** PEM public key file (cosign.pub) */
  publicKey: string;
}

export function makeCosignKey(file: string): CosignKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fs.writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey, publicKey: file };
}

/** cosign's payload; `extra` adds fields to `critical` */
export function cosignPayload(ref: string, digest: string, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': ref }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature', ...extra }, optional: null }));
}

async function putBlob(registry: string, repo: string, data: Buffer): Promise<string> {
  const digest = `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
  const start = await fetch(`http://${registry}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const loc = new URL(start.headers.get('location')!, `http://${registry}`);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(data), headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/**
 * Pushes the `sha256-HEX.sig` attachment of `digest` to REPO with one layer per signature, as
 * cosign lays it out: the payload as the blob, the signature (base64 DER) as its annotation.
 */
export async function pushCosignAttachment(registry: string, repo: string, digest: string, sigs: Array<{ payload: Buffer; key: crypto.KeyObject; mediaType?: string }>): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } }));
  const configDigest = await putBlob(registry, repo, config);
  const layers = [];
  for (const s of sigs) {
    const d = await putBlob(registry, repo, s.payload);
    const signature = crypto.sign('sha256', s.payload, s.key).toString('base64');
    layers.push({ mediaType: s.mediaType ?? 'application/vnd.dev.cosign.simplesigning.v1+json', size: s.payload.length, digest: d, annotations: { 'dev.cosignproject.cosign/signature': signature } });
  }
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: configDigest }, layers };
  const tag = `${digest.replace(':', '-')}.sig`;
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'Content-Type': manifest.mediaType } });
  if (res.status !== 201) throw new Error(`attachment manifest: HTTP ${res.status} ${await res.text()}`);
}

/** The digest of the manifest the registry serves for REPO:TAG. */
export async function registryDigest(registry: string, repo: string, tag: string): Promise<string> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  return res.headers.get('docker-content-digest')!;
}

/** Two GPG keys (good, other) in WORK/gnupg and a file:// lookaside in WORK/lookaside configured by WORK/registries.d. */
export async function gpgLookasideSetup(work: string): Promise<{ gnupgHome: string; good: GpgKey; other: GpgKey; lookaside: string; rd: string }> {
  const gnupgHome = path.join(work, 'gnupg');
  const good = await makeGpgKey(gnupgHome, 'good');
  const other = await makeGpgKey(gnupgHome, 'other');
  const lookaside = path.join(work, 'lookaside');
  const rd = path.join(work, 'registries.d');
  writeRegistriesD(rd, lookaside);
  return { gnupgHome, good, other, lookaside, rd };
}
