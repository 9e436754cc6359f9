/**
 * Images built by buildah 1.28 (`bud --layers`, chroot isolation) on the overlay and the vfs
 * storage drivers, pushed (all formats from overlay, a few from vfs) as an OCI layout
 * (gzip/zstd/uncompressed), oci-archive, docker-archive, and to a loopback registry as v2s2 and
 * OCI (gzip/zstd/uncompressed), and a `buildah commit` of a container that deleted several paths:
 * each pulled by sysctr checks out as `umoci unpack` of it.
 */
import t from 'tap';
import path from 'node:path';
import { requirePrereqs } from '../helpers/prereq.js';
import { pushCases, runCases, setUp, whiteoutHeaders, type Case } from '../helpers/builders-matrix.js';

if (!requirePrereqs(t, ['buildah', 'umoci', 'skopeo', 'docker-registry', 'busybox'])) process.exit(0);

const vfsCases = ['oci gzip', 'docker-archive', 'registry v2s2', 'buildah commit'];

for (const driver of ['overlay', 'vfs'] as const) {
  t.test(`buildah, ${driver} driver`, async (t) => {
    const m = await setUp(t, 'buildah', driver);
    const w = (f: string) => path.join(m.work, f);
    const reg = `docker://${m.registry.host}/bld/buildah-raw:v1`;
    const extra: Case[] = [
      { label: 'oci uncompressed', make: async () => (await m.tool(['push', '--quiet', '-D', m.image, `oci:${w('oci-raw')}:v1`]), { source: `oci:${w('oci-raw')}:v1` }) },
      { label: 'registry oci uncompressed', make: async () => (await m.tool(['push', '--quiet', '--tls-verify=false', '-D', '--format', 'oci', m.image, reg]), { source: reg, pullArgs: ['--tls-verify=false'] }) },
      {
        label: 'buildah commit',
        make: async () => {
          const ctr = (await m.tool(['from', '--quiet', m.image])).trim();
          await m.tool(['run', '--isolation', 'chroot', ctr, '--', '/bin/sh', '-c', 'rm -rf /links/b /links/rel /etc/del/b /long && mkdir /modes/new']);
          await m.tool(['commit', '--quiet', ctr, `oci-archive:${w('commit.oci.tar')}:c`]);
          await m.tool(['rm', ctr]);
          return { source: `oci-archive:${w('commit.oci.tar')}:c` };
        },
      },
    ];
    const all = [...pushCases(m, 'buildah'), ...extra];
    // every format on overlay; on vfs a few: containers/image writes the formats the same way for
    // both drivers, only the layer tars differ (and they are the same in every format)
    await runCases(t, m, driver === 'overlay' ? all : all.filter((c) => vfsCases.includes(c.label)));
    const wh = whiteoutHeaders(m.layers());
    t.ok(wh.whiteouts.length >= 4, `the RUN layer deletes several paths (${wh.whiteouts.length} whiteouts)`);
    // overlay marks the re-made opq/ opaque; vfs writes a whiteout for each old entry instead
    if (driver === 'overlay') t.ok(wh.opaque, 'opq/ is an opaque directory in the RUN layer');
    if (driver === 'overlay') t.ok(wh.withLink.length > 0, `overlay writes whiteouts with a link name (${wh.withLink.map((h) => `${h.name} -> ${h.linkname}`).join(', ')})`);
  });
}
