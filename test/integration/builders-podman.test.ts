/**
 * Images built by `podman build` (podman 4.3, chroot isolation) on the overlay and the vfs storage
 * drivers, written (all formats from overlay, a few from vfs) by `podman push` (OCI layout
 * gzip/zstd/zstd:chunked, a loopback registry as v2s2 and OCI, gzip/zstd) and `podman save`
 * (docker-archive, oci-archive, an uncompressed oci-dir): each pulled by sysctr checks out as
 * `umoci unpack` of it.
 */
import t from 'tap';
import path from 'node:path';
import { requirePrereqs } from '../helpers/prereq.js';
import { pushCases, runCases, setUp, whiteoutHeaders, type Case } from '../helpers/builders-matrix.js';

if (!requirePrereqs(t, ['podman', 'umoci', 'skopeo', 'docker-registry', 'busybox'])) process.exit(0);

const vfsCases = ['oci gzip', 'registry oci zstd', 'save docker-archive'];

for (const driver of ['overlay', 'vfs'] as const) {
  t.test(`podman, ${driver} driver`, async (t) => {
    const m = await setUp(t, 'podman', driver);
    const w = (f: string) => path.join(m.work, f);
    const save = (format: string, out: string, more: string[] = []) => m.tool(['save', '--quiet', '--format', format, ...more, '-o', out, m.image]);
    const extra: Case[] = [
      // zstd:chunked: zstd frames plus skippable frames holding a table of contents
      { label: 'oci zstd:chunked', make: async () => (await m.tool(['push', '--quiet', '--compression-format', 'zstd:chunked', m.image, `oci:${w('oci-chunked')}:v1`]), { source: `oci:${w('oci-chunked')}:v1` }) },
      { label: 'save docker-archive', make: async () => (await save('docker-archive', w('save-docker.tar')), { source: `docker-archive:${w('save-docker.tar')}` }) },
      { label: 'save oci-archive', make: async () => (await save('oci-archive', w('save.oci.tar')), { source: `oci-archive:${w('save.oci.tar')}` }) },
      // podman names the one image in the layout by its full name, localhost/NAME:TAG
      { label: 'save oci-dir uncompressed', make: async () => (await save('oci-dir', w('save-oci-dir'), ['--uncompressed']), { source: `oci:${w('save-oci-dir')}:${m.image}` }) },
    ];
    const all = [...pushCases(m, 'podman'), ...extra];
    // every format on overlay; on vfs a few: containers/image writes the formats the same way for
    // both drivers, only the layer tars differ (and they are the same in every format)
    await runCases(t, m, driver === 'overlay' ? all : all.filter((c) => vfsCases.includes(c.label)));
    const wh = whiteoutHeaders(m.layers());
    t.ok(wh.whiteouts.length >= 4, `the RUN layer deletes several paths (${wh.whiteouts.length} whiteouts)`);
    if (driver === 'overlay') t.ok(wh.opaque, 'opq/ is an opaque directory in the RUN layer');
    if (driver === 'overlay') t.ok(wh.withLink.length > 0, `overlay writes whiteouts with a link name (${wh.withLink.map((h) => `${h.name} -> ${h.linkname}`).join(', ')})`);
  });
}
