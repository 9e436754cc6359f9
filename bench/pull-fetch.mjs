// Transport only: fetch the manifest and every blob of REF from a registry with sysctr's registry
// source, hashing each (as pull does) and storing nothing. Shows what pull spends outside the network.
// Usage: node bench/pull-fetch.mjs 127.0.0.1:PORT/REPO:TAG   (plain http allowed)
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { openRegistrySource } from '../dist/lib/image/registry/index.js';
import { parseReference } from '../dist/lib/image/reference.js';

// as cli/main.ts sets it for a pull
v8.setFlagsFromString('--liftoff-only');
const src = await openRegistrySource(parseReference(process.argv[2]), { tlsVerify: false });
const manifest = JSON.parse((await src.getManifest()).bytes.toString());
await Promise.all(
  [manifest.config, ...manifest.layers].map(async (d) => {
    const h = createHash('sha256');
    for await (const chunk of await src.getBlob(d)) h.update(chunk);
    if (`sha256:${h.digest('hex')}` !== d.digest) throw new Error(`${d.digest}: digest mismatch`);
  }),
);
