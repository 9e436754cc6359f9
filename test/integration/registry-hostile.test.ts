/**
 * Registries that do harm, through the CLI as a user runs it: servers that stall (before their
 * headers, in a body, in a blob), a token server that never stops sending or cannot be reached,
 * a verified-https registry that sends clients to a plain-http token realm (the real registry,
 * its certificate trusted with NODE_EXTRA_CA_CERTS), descriptors with sizes that are no sizes;
 * and credentials given without showing in `ps` (--creds-file, a file or standard input).
 */
import t from 'tap';
import crypto, { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { sysctr } from '../helpers/cli.js';
import { tarBuffer } from '../helpers/tar-writer.js';
import { buildImageLayout, freePort, pushLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const OCI = 'application/vnd.oci.image.manifest.v1+json';

const work = tempDir('sysctr-hostile-');
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'root');
const env = { SYSCTR_ROOT: root };

/** a scripted registry; `route` answers or returns false for a 404 */
async function scripted(route: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | void) {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    if (route(req, res) === false) res.writeHead(404).end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    host,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function manifestWith(layers: { digest: string; size: number }[]): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
  });
}
/** a config naming one layer (its diff_id is never reached) */
const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha('layer')] } }));

async function timed<T>(f: () => Promise<T>): Promise<{ r: T; s: number }> {
  const t0 = Date.now();
  const r = await f();
  return { r, s: (Date.now() - t0) / 1000 };
}

t.test('a registry that never answers: a clear error naming the host, after --timeout per attempt', async (t) => {
  const srv = await scripted(() => {
    /* accepts, reads, says nothing */
  });
  t.teardown(srv.close);
  const { r, s } = await timed(() => sysctr(['pull', '--tls-verify=false', '--timeout', '1', `${srv.host}/x/app:1`], { env }));
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, `cannot reach registry ${srv.host} for ${srv.host}/x/app:1: no answer within 1 s`);
  t.match(r.stderr, /--timeout SECONDS/);
  t.notMatch(r.stderr, /internal error/);
  // four attempts of 1 s and the backoff between them; undici's own default would be 4 x 300 s
  t.ok(s < 20, `gave up after ${s} s`);
});

t.test('a manifest body that stalls half-way', async (t) => {
  const srv = await scripted((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    res.writeHead(200, { 'content-type': OCI, 'content-length': '1000' });
    res.write('{"schemaVersion": 2,');
  });
  t.teardown(srv.close);
  const { r, s } = await timed(() => sysctr(['pull', '--tls-verify=false', '--timeout', '1', `${srv.host}/x/app:1`], { env }));
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, /nothing more received for 1 s/);
  t.notMatch(r.stderr, /internal error/);
  t.ok(s < 20, `gave up after ${s} s`);
});

t.test('a blob that stalls: resumed, then a clear error', async (t) => {
  // gzip of a tar's worth of noise: the first 1000 bytes are a valid start, so only the stall can fail it
  const layer = zlib.gzipSync(tarBuffer([{ path: 'noise', type: 'file', content: crypto.randomBytes(200_000) }]));
  const manifest = manifestWith([{ digest: sha(layer), size: layer.length }]);
  let blobGets = 0;
  const srv = await scripted((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    if (req.url === '/v2/x/app/manifests/1') return void res.writeHead(200, { 'content-type': OCI }).end(manifest);
    if (req.url === `/v2/x/app/blobs/${sha(config)}`) return void res.writeHead(200).end(config);
    if (req.url === `/v2/x/app/blobs/${sha(layer)}`) {
      blobGets++;
      res.writeHead(200, { 'content-length': String(layer.length), 'accept-ranges': 'bytes' });
      res.write(layer.subarray(0, 1000));
      return;
    }
    return false;
  });
  t.teardown(srv.close);
  const r = await sysctr(['pull', '--tls-verify=false', '--timeout', '1', `${srv.host}/x/app:1`], { env });
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, new RegExp(`blob ${sha(layer)} of ${srv.host}/x/app:1: download failed \\(nothing more received for 1 s after \\d+ bytes`));
  t.ok(blobGets >= 2, `the download was tried again (${blobGets} requests)`);
  t.same(fs.readdirSync(path.join(root, 'store')).filter((f) => f.startsWith('.tmp')), [], 'no temp files left');
});

t.test('an endless token answer is cut at 1 MiB; memory stays small', async (t) => {
  let sent = 0;
  const srv = await scripted((req, res) => {
    if (req.url === '/v2/') {
      return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="s"` }).end();
    }
    if (req.url?.startsWith('/token')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 << 10, 'a');
      const pump = () => {
        for (let more = true; more && sent < 1 << 30; ) {
          more = res.write(chunk);
          sent += chunk.length;
        }
      };
      res.on('drain', pump);
      pump();
      return;
    }
    return false;
  });
  t.teardown(srv.close);
  const r = await sysctr(['pull', '--tls-verify=false', `${srv.host}/x/app:1`], { env });
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, `token request to http://${srv.host}/token: the answer is larger than 1048576 bytes; refused`);
  t.ok(sent < 64 << 20, `the server got to send ${sent} bytes before the client hung up`);
});

t.test('an unreachable token realm is a clear error, not an internal one', async (t) => {
  const closed = await freePort();
  const srv = await scripted((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${closed}/token",service="s"` }).end();
    return false;
  });
  t.teardown(srv.close);
  const r = await sysctr(['pull', '--tls-verify=false', `${srv.host}/x/app:1`], { env });
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, `cannot reach the token server 127.0.0.1:${closed} for ${srv.host}/x/app:1: connection refused`);
  t.notMatch(r.stderr, /internal error/);
});

t.test('descriptor sizes that are not byte counts are refused by name', async (t) => {
  for (const size of [-1, 1.5, 2 ** 60]) {
    const manifest = manifestWith([{ digest: sha('x'), size }]);
    const srv = await scripted((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      if (req.url === '/v2/x/app/manifests/1') return void res.writeHead(200, { 'content-type': OCI }).end(manifest);
      return false;
    });
    const r = await sysctr(['pull', '--tls-verify=false', `${srv.host}/x/app:1`], { env });
    srv.close();
    t.equal(r.exitCode, 1, r.stderr);
    t.match(r.stderr, `blob ${sha('x')} has size ${size}, which is not a byte count; refused`, `size ${size}`);
  }
});

t.test('--timeout must be a positive number of seconds (a usage error)', async (t) => {
  for (const v of ['0', '-3', 'soon']) {
    const r = await sysctr(['pull', '--timeout', v, 'oci:/nonexistent'], { env });
    t.equal(r.exitCode, 2, `--timeout ${v}: ${r.stderr}`);
    t.match(r.stderr, /--timeout takes a number of seconds/);
  }
});

if (await registryTestsCanRun(t)) {
  const USER = 'tester';
  const PASS = 'secret-pw';
  const layout = path.join(work, 'img');
  await buildImageLayout(layout, 'v1', { layers: [{ files: { 'etc/motd': 'hostile registries\n' } }] });

  t.test('verified https registry, token realm on plain http: refused before any credential leaves', async (t) => {
    const reg = await startRegistry({ tls: true, token: { user: USER, pass: PASS } });
    t.teardown(() => reg.stop());
    const credsFile = path.join(work, 'creds');
    fs.writeFileSync(credsFile, `${USER}:${PASS}\n`, { mode: 0o600 });
    const trusted = { ...env, NODE_EXTRA_CA_CERTS: reg.certFile! };
    const before = reg.issuer!.requests.length;
    const r = await sysctr(['pull', '--creds-file', credsFile, `${reg.host}/private/app:v1`], { env: trusted });
    t.equal(r.exitCode, 1, r.stderr);
    t.match(r.stderr, `the registry https://${reg.host} sends clients for a token to ${reg.issuer!.url.replace(/\/token$/, '')}, over plain http; refused (the credentials would cross the network unencrypted)`);
    t.match(r.stderr, /auth\.token\.realm/);
    t.equal(reg.issuer!.requests.length, before, 'the token server was never asked');
    // the registry's certificate really was verified: without trusting it, TLS fails instead
    const untrusted = await sysctr(['pull', '--creds-file', credsFile, `${reg.host}/private/app:v1`], { env });
    t.match(untrusted.stderr, /TLS failed/);
  });

  t.test('--creds-file from a file and from standard input (nothing in argv); wrong creds refused', async (t) => {
    const reg = await startRegistry({ basic: { user: USER, pass: PASS } });
    t.teardown(() => reg.stop());
    await pushLayout(layout, 'v1', `${reg.host}/private/app:v1`, { creds: `${USER}:${PASS}` });
    const credsFile = path.join(work, 'creds2');
    fs.writeFileSync(credsFile, `${USER}:${PASS}\n`, { mode: 0o600 });
    const fromFile = await sysctr(['pull', '--tls-verify=false', '--creds-file', credsFile, `${reg.host}/private/app:v1`], { env });
    t.equal(fromFile.exitCode, 0, fromFile.stderr);
    t.match(fromFile.stdout, /pulled sha256:/);
    const fromStdin = await sysctr(['images', 'update', '--tls-verify=false', '--creds-file', '-', `${reg.host}/private/app:v1`], { env, input: `${USER}:${PASS}\n` });
    t.equal(fromStdin.exitCode, 0, fromStdin.stderr);
    t.match(fromStdin.stdout, /up to date/);
    const wrong = await sysctr(['pull', '--tls-verify=false', '--creds-file', '-', `${reg.host}/private/app:v1`], { env, input: `${USER}:nope\n` });
    t.equal(wrong.exitCode, 1);
    t.match(wrong.stderr, /unauthorized/);
    // one failure among the images updated: its message under its name, and its hint
    const wrongUpdate = await sysctr(['images', 'update', '--tls-verify=false', '--creds-file', '-', `${reg.host}/private/app:v1`], { env, input: `${USER}:nope\n` });
    t.equal(wrongUpdate.exitCode, 1);
    t.match(wrongUpdate.stderr, new RegExp(`^sysctr: ${reg.host}/private/app:v1: .*unauthorized.*\n  hint: give credentials with --creds`, 'm'));
    const both = await sysctr(['pull', '--creds', 'a:b', '--creds-file', credsFile, `${reg.host}/private/app:v1`], { env });
    t.equal(both.exitCode, 2, 'either --creds or --creds-file');
    const missing = await sysctr(['pull', '--tls-verify=false', '--creds-file', path.join(work, 'nope'), `${reg.host}/private/app:v1`], { env });
    t.equal(missing.exitCode, 2);
    t.match(missing.stderr, /cannot read --creds-file/);
  });
}
