// Writes an OCI layout holding one image whose single layer is the given tar(.gz|.zst) file.
// usage: node bench/make-layout.mjs LAYER_FILE LAYOUT_DIR REF
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';

const [layerFile, dir, ref] = process.argv.slice(2);
const hashFile = async (file, gunzip) => {
  const h = crypto.createHash('sha256');
  const sink = new Writable({ write(c, _e, cb) { h.update(c); cb(); } });
  const src = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  await (gunzip ? pipeline(src, zlib.createGunzip(), sink) : pipeline(src, sink));
  return 'sha256:' + h.digest('hex');
};
const gz = layerFile.endsWith('.gz');
const digest = await hashFile(layerFile, false);
const diffId = gz ? await hashFile(layerFile, true) : digest;
const size = fs.statSync(layerFile).size;
fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
const put = (bytes) => {
  const d = 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(path.join(dir, 'blobs/sha256', d.slice(7)), bytes);
  return { digest: d, size: bytes.length };
};
const target = path.join(dir, 'blobs/sha256', digest.slice(7));
fs.rmSync(target, { force: true });
fs.linkSync(layerFile, target);
const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } })));
const manifest = put(Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
  layers: [{ mediaType: gz ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar', digest, size }],
})));
fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': ref } }] }));
