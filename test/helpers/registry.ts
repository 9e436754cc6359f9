/**
 * A real registry on loopback for tests: Debian's `docker-registry` (distribution 2.8) with its
 * own config and storage, optionally behind htpasswd (bcrypt) or token auth with a JWT issuer run
 * here. Small OCI layouts are built at run time and pushed with skopeo. Only 127.0.0.1 is used.
 */
import { execa, type ResultPromise } from 'execa';
import { createHash, createPrivateKey, sign as cryptoSign, X509Certificate, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { unmet } from './prereq.js';
import { buildImage, writeOciIndexLayout, writeOciLayout, type BuiltImage, type TarEntry } from './images.js';

/** The host programs these tests drive; the missing ones, if any. */
export async function missingTools(tools = ['docker-registry', 'skopeo', 'htpasswd', 'openssl', 'tar']): Promise<string[]> {
  const missing: string[] = [];
  for (const t of tools) {
    const r = await execa('sh', ['-c', `command -v ${t}`], { reject: false });
    if (r.exitCode !== 0) missing.push(t);
  }
  return missing;
}

/** The registry tests can run here, or `unmet` (fails under CI, skips loudly). */
export async function registryTestsCanRun(t: Test, tools?: string[]): Promise<boolean> {
  const missing = await missingTools(tools);
  if (missing.length === 0) return true;
  return unmet(t, `registry tests need ${missing.join(', ')} (apt-get install -y docker-registry skopeo apache2-utils openssl)`);
}

export function tempDir(prefix = 'sysctr-reg-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TokenIssuer {
  url: string;
  port: number;
  /** every token request: the scope asked for and whether Basic credentials came with it */
  requests: { scope: string | null; service: string | null; authorized: boolean }[];
  stop(): Promise<void>;
}

export interface RegistryStartOptions {
  /** reuse a storage dir (e.g. images pushed by an earlier registry) */
  storageDir?: string;
  /** htpasswd (bcrypt) basic auth with this user */
  basic?: { user: string; pass: string };
  /** token auth: the issuer signs with RS256 (x5c header) or ES256 (libtrust kid header) */
  token?: { user: string; pass: string; alg?: 'RS256' | 'ES256'; anonymousPull?: boolean };
  /** serve https with a self-signed certificate for 127.0.0.1 */
  tls?: boolean;
  /** run as a pull-through cache of this upstream URL (distribution's `proxy: remoteurl:`) */
  proxyRemoteUrl?: string;
  /** turn the access log on (one Apache combined line per request on stdout): read it with output() */
  accessLog?: boolean;
}

export interface Registry {
  port: number;
  /** 127.0.0.1:PORT */
  host: string;
  storageDir: string;
  issuer?: TokenIssuer;
  /** with tls: the registry's self-signed certificate (trust it with NODE_EXTRA_CA_CERTS) */
  certFile?: string;
  /** what the registry printed so far (its access log, with accessLog) */
  output(): string;
  stop(): Promise<void>;
  /** SIGKILL, for "the registry died" tests */
  kill(): void;
}

/** libtrust's key ID: the first 240 bits of sha256(SPKI DER), base32, in 4-character groups. */
export function libtrustKeyId(spkiDer: Buffer): string {
  const bytes = createHash('sha256').update(spkiDer).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

async function startTokenIssuer(dir: string, o: NonNullable<RegistryStartOptions['token']>, service: string, issuer: string): Promise<{ issuer: TokenIssuer; certFile: string }> {
  const alg = o.alg ?? 'RS256';
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  const newkey = alg === 'RS256' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  await execa('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=sysctr-test-token-issuer']);
  const key = createPrivateKey(fs.readFileSync(keyFile));
  const cert = new X509Certificate(fs.readFileSync(certFile));
  const header =
    alg === 'RS256'
      ? { typ: 'JWT', alg, x5c: [cert.raw.toString('base64')] }
      : { typ: 'JWT', alg, kid: libtrustKeyId(cert.publicKey.export({ type: 'spki', format: 'der' })) };
  const requests: TokenIssuer['requests'] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scope = u.searchParams.get('scope');
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : undefined;
    requests.push({ scope, service: u.searchParams.get('service'), authorized: given !== undefined });
    if (given !== undefined && given !== `${o.user}:${o.pass}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad user name or password' }] }));
      return;
    }
    if (given === undefined && !o.anonymousPull) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'this registry needs credentials' }] }));
      return;
    }
    // scope: repository:NAME:pull,push (possibly several, space separated)
    const access = (scope ?? '')
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop()!.split(',');
        return { type, name: rest.join(':'), actions: given === undefined ? actions.filter((a) => a === 'pull') : actions };
      });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, sub: given ? o.user : '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature =
      alg === 'RS256'
        ? cryptoSign('sha256', Buffer.from(signingInput), key)
        : cryptoSign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${signingInput}.${b64url(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const stop = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return { issuer: { url: `http://127.0.0.1:${port}/token`, port, requests, stop }, certFile };
}

function tcpConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.destroy();
      resolve();
    });
    sock.once('error', reject);
  });
}

/** Starts `docker-registry serve` on 127.0.0.1:free-port and waits until /v2/ answers. */
export async function startRegistry(o: RegistryStartOptions = {}): Promise<Registry> {
  const dir = tempDir();
  const storageDir = o.storageDir ?? path.join(dir, 'storage');
  fs.mkdirSync(storageDir, { recursive: true });
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    `    disabled: ${o.accessLog ? 'false' : 'true'}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (o.proxyRemoteUrl) lines.push('proxy:', `  remoteurl: ${o.proxyRemoteUrl}`);
  if (o.tls) {
    const cert = path.join(dir, 'tls.crt');
    const key = path.join(dir, 'tls.key');
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    lines.push('  tls:', `    certificate: ${cert}`, `    key: ${key}`);
  }
  let issuer: TokenIssuer | undefined;
  if (o.basic) {
    const r = await execa('htpasswd', ['-nbB', o.basic.user, o.basic.pass]);
    fs.writeFileSync(path.join(dir, 'htpasswd'), r.stdout.trim() + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: sysctr-test', `    path: ${path.join(dir, 'htpasswd')}`);
  } else if (o.token) {
    const service = 'sysctr-test-registry';
    const iss = 'sysctr-test-issuer';
    const t = await startTokenIssuer(dir, o.token, service, iss);
    issuer = t.issuer;
    lines.push('auth:', '  token:', `    realm: ${issuer.url}`, `    service: ${service}`, `    issuer: ${iss}`, `    rootcertbundle: ${t.certFile}`);
  }
  fs.writeFileSync(path.join(dir, 'config.yml'), lines.join('\n') + '\n');
  const proc: ResultPromise = execa('docker-registry', ['serve', path.join(dir, 'config.yml')], { reject: false, all: true, buffer: true });
  let exited = false;
  void proc.then(() => (exited = true));
  const printed: Buffer[] = [];
  proc.all?.on('data', (b: Buffer) => printed.push(b));
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      if (o.tls) await tcpConnect(port);
      else await (await fetch(`http://127.0.0.1:${port}/v2/`)).body?.cancel();
      break;
    } catch {
      if (exited || Date.now() > deadline) {
        proc.kill('SIGKILL');
        const out = await proc;
        await issuer?.stop();
        throw new Error(`docker-registry did not start on 127.0.0.1:${port}: ${String(out.all ?? '').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stop = async () => {
    if (!exited) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await proc;
      clearTimeout(timer);
    }
    await issuer?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const certFile = o.tls ? path.join(dir, 'tls.crt') : undefined;
  const output = () => Buffer.concat(printed).toString();
  return { port, host: `127.0.0.1:${port}`, storageDir, issuer, certFile, output, stop, kill: () => void proc.kill('SIGKILL') };
}

/** skopeo copy oci:LAYOUT:TAG docker://127.0.0.1:PORT/REPO:TAG (--all for an index). */
export async function pushLayout(layout: string, tag: string, dest: string, o: { all?: boolean; creds?: string } = {}): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (o.all) args.push('--all');
  if (o.creds) args.push('--dest-creds', o.creds);
  args.push(`oci:${layout}:${tag}`, `docker://${dest}`);
  await execa('skopeo', args);
}

export interface FilesLayer {
  /** path -> content */
  files: Record<string, string | Buffer>;
}

export interface FilesImageSpec {
  layers: FilesLayer[];
  platform?: { os: string; architecture: string; variant?: string };
  labels?: Record<string, string>;
}

export interface LayoutImage {
  manifestDigest: string;
  configDigest: string;
  /** compressed layer blobs: digest and size */
  layers: { digest: string; size: number; diffId: string }[];
}

const toEntries = (files: Record<string, string | Buffer>): TarEntry[] => Object.entries(files).map(([p, content]) => ({ path: p, content }));

function fromBuilder(img: BuiltImage): LayoutImage {
  return {
    manifestDigest: img.manifest.digest,
    configDigest: img.config.digest,
    layers: img.layers.map((l, i) => ({ digest: l.digest, size: l.size, diffId: img.diffIds[i] })),
  };
}

function build(spec: FilesImageSpec): BuiltImage {
  const p = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  return buildImage({
    layers: spec.layers.map((l) => ({ entries: toEntries(l.files) })),
    config: { Cmd: ['/bin/sh'], Labels: spec.labels ?? {} },
    os: p.os,
    architecture: p.architecture,
    variant: p.variant,
  });
}

/** An OCI layout at `layout` holding one image under `tag` (built with test/helpers/images.ts). */
export async function buildImageLayout(layout: string, tag: string, spec: FilesImageSpec): Promise<LayoutImage> {
  const img = build(spec);
  writeOciLayout(layout, [{ image: img, ref: tag }]);
  return fromBuilder(img);
}

/** An OCI layout whose `tag` is a multi-platform index (push it with { all: true }). */
export async function buildIndexLayout(layout: string, tag: string, specs: FilesImageSpec[]): Promise<{ indexDigest: string; images: LayoutImage[] }> {
  const images = specs.map(build);
  writeOciIndexLayout(
    layout,
    tag,
    images.map((image, i) => ({ image, platform: specs[i].platform ?? { os: 'linux', architecture: 'amd64' } })),
  );
  const top = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  return { indexDigest: top.manifests[0].digest, images: images.map(fromBuilder) };
}
