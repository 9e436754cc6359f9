/**
 * The registry dies in the middle of `sysctr pull`: a clear one-line error, the store
 * is consistent (fsck clean, no image recorded), and the next pull completes.
 * A loopback proxy stalls the big layer after 1 MB so the kill lands mid-blob every time.
 */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import { execa } from 'execa';
import { sysctr, sysctrBin } from '../helpers/cli.js';
import { buildImageLayout, pushLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';

if (await registryTestsCanRun(t)) {
  const work = tempDir();
  const reg = await startRegistry();
  t.teardown(async () => {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const big = crypto.randomBytes(24 * 1024 * 1024);
  const img = await buildImageLayout(path.join(work, 'img'), 'v1', { layers: [{ files: { 'etc/small': 'x\n' } }, { files: { 'opt/big': big } }] });
  await pushLayout(path.join(work, 'img'), 'v1', `${reg.host}/big/app:v1`);
  const bigDigest = img.layers[1].digest;

  // Forwards to the registry; the big blob's body stops after 1 MB until the registry is gone,
  // then its connection is cut (once). Once the registry is gone, every connection is cut.
  let upstreamPort = reg.port;
  let stallDone = false;
  let stalled: () => void = () => {};
  const sawStall = new Promise<void>((r) => (stalled = r));
  const proxy = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (!req.url?.endsWith(bigDigest) || req.headers.range || stallDone) return ur.pipe(res);
      stallDone = true;
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent >= 1 << 20) return;
        res.write(c);
        sent += c.length;
        if (sent >= 1 << 20) {
          ur.pause();
          stalled();
        }
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const sockets = new Set<net.Socket>();
  proxy.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyHost = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  t.teardown(() => new Promise<void>((r) => proxy.close(() => r())));

  const root = path.join(work, 'root');
  const ref = `docker://${proxyHost}/big/app:v1`;

  t.test('the registry killed mid-pull: one clear line, exit 1, nothing recorded, fsck clean', async (t) => {
    const pull = execa(process.execPath, [sysctrBin, '--root', root, 'pull', ref, '--tls-verify=false'], { reject: false });
    await sawStall;
    reg.kill();
    await new Promise((r) => setTimeout(r, 100));
    for (const s of sockets) s.destroy();
    const r = await pull;
    t.equal(r.exitCode, 1, String(r.stderr));
    const errLines = String(r.stderr).split('\n').filter((l) => l.startsWith('sysctr:'));
    t.equal(errLines.length, 1, 'one error line');
    t.match(errLines[0], `${proxyHost}/big/app:v1`, 'names the reference');
    t.match(errLines[0], /download failed|connection|refused|reset|socket/i, 'says the download failed');
    t.notMatch(String(r.stderr), /internal error/);
    const list = await sysctr(['--root', root, 'images', 'list', '--json']);
    t.same(JSON.parse(list.stdout), [], 'no image recorded');
    t.same(fs.readdirSync(path.join(root, 'store/layers')), [], 'no layer left behind');
    const fsck = await sysctr(['--root', root, 'fsck']);
    t.equal(fsck.exitCode, 0, fsck.stdout);
  });

  t.test('the registry back (same storage): the next pull completes', async (t) => {
    const again = await startRegistry({ storageDir: reg.storageDir });
    t.teardown(() => again.stop());
    upstreamPort = again.port;
    const r = await sysctr(['--root', root, 'pull', ref, '--tls-verify=false']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /pulled sha256:[0-9a-f]{64} \(2 of 2 layers fetched\)/);
    const co = path.join(work, 'co');
    t.equal((await sysctr(['--root', root, 'checkout', `${proxyHost}/big/app:v1`, co])).exitCode, 0);
    t.ok(fs.readFileSync(path.join(co, 'opt/big')).equals(big), 'the big file arrived whole');
  });
}
