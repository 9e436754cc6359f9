/**
 * One image (built by umoci from the base tree and the content script) copied by skopeo 1.9 into
 * every transport sysctr reads: OCI layout (gzip, zstd), oci-archive, docker-archive, and a
 * loopback registry as v2s2 and OCI. Each pulled by sysctr checks out as `umoci unpack` of it.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requirePrereqs } from '../helpers/prereq.js';
import { assertContent, pullMatchesUmoci, run, writeBaseTree, type Reference } from '../helpers/builders.js';
import { startRegistry } from '../helpers/registry.js';

if (!requirePrereqs(t, ['umoci', 'skopeo', 'docker-registry', 'busybox'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-bld-skopeo-'));
const registry = await startRegistry();
t.teardown(async () => {
  await registry.stop();
  fs.rmSync(work, { recursive: true, force: true });
});
const root = path.join(work, 'store');
const w = (f: string) => path.join(work, f);

const layout = w('src');
await run('umoci', ['init', '--layout', layout]);
await run('umoci', ['new', '--image', `${layout}:v1`]);
await run('umoci', ['unpack', '--image', `${layout}:v1`, w('bundle')]);
writeBaseTree(w('bundle/rootfs'));
await run('umoci', ['repack', '--image', `${layout}:v1`, w('bundle')]);
await run('sh', [w('bundle/rootfs/mk.sh'), w('bundle/rootfs')]);
await run('umoci', ['repack', '--image', `${layout}:v1`, w('bundle')]);
await run('umoci', ['config', '--image', `${layout}:v1`, '--config.cmd', '/usr/bin/run.sh', '--config.label', 'atomic.type=system']);

// every copy has the source's diff_ids, so umoci unpacks the source once for all of them (and
// a copy whose layers differ would be converted back to a gzip OCI layout for umoci on its own)
const cache = new Map<string, Reference>();
const src = `oci:${layout}:v1`;
const reg = (tag: string) => `docker://${registry.host}/bld/skopeo:${tag}`;
const cases: Array<{ label: string; dest: string; source?: string; args?: string[]; pullArgs?: string[] }> = [
  { label: 'oci', dest: `oci:${w('copy-oci')}:v1` },
  { label: 'oci zstd', dest: `oci:${w('copy-zstd')}:v1`, args: ['--dest-compress-format', 'zstd'] },
  { label: 'oci-archive', dest: `oci-archive:${w('copy.oci.tar')}:v1` },
  { label: 'docker-archive', dest: `docker-archive:${w('copy-docker.tar')}:localhost/bld-skopeo:v1`, source: `docker-archive:${w('copy-docker.tar')}` },
  { label: 'registry v2s2', dest: reg('v2s2'), args: ['--dest-tls-verify=false', '--format', 'v2s2'], pullArgs: ['--tls-verify=false'] },
  { label: 'registry oci', dest: reg('oci'), args: ['--dest-tls-verify=false', '--format', 'oci'], pullArgs: ['--tls-verify=false'] },
  { label: 'registry oci zstd', dest: reg('zstd'), args: ['--dest-tls-verify=false', '--format', 'oci', '--dest-compress-format', 'zstd'], pullArgs: ['--tls-verify=false'] },
];

for (const c of cases) {
  t.test(`skopeo copy to ${c.label}`, async (t) => {
    await run('skopeo', ['copy', '--quiet', ...(c.args ?? []), src, c.dest]);
    const umociRef = async () => {
      const dir = w(`ref-${c.label.replace(/\W+/g, '-')}`);
      const tls = c.dest.startsWith('docker://') ? ['--src-tls-verify=false'] : [];
      await run('skopeo', ['copy', '--quiet', ...tls, '--dest-compress-format', 'gzip', c.source ?? c.dest, `oci:${dir}:ref`]);
      return `${dir}:ref`;
    };
    const r = await pullMatchesUmoci(t, { root, work, source: c.source ?? c.dest, pullArgs: c.pullArgs, umociRef, label: c.label, cache });
    if (r && c === cases[0]) assertContent(t, r.tree, c.label);
  });
}
