/**
 * The buildah/podman half of the outside-builder matrix: one image built per tool and storage
 * driver (FROM scratch, COPY the base tree, RUN the content script), written out in every format
 * sysctr reads, each pulled by sysctr and compared with `umoci unpack` of the artifact (skopeo-copied
 * to an OCI layout; once per distinct set of layers).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Test } from 'tap';
import { assertContent, containersTool, pullMatchesUmoci, run, writeContext, type Reference } from './builders.js';
import { startRegistry, type Registry } from './registry.js';

export interface TarHeader {
  name: string;
  type: string;
  linkname: string;
}

/** The headers of a plain ustar/GNU stream, read one by one (long names as their header shows them). */
export function tarHeaders(raw: Buffer): TarHeader[] {
  const out: TarHeader[] = [];
  for (let off = 0; off + 512 <= raw.length; ) {
    const h = raw.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const field = (a: number, n: number) => h.subarray(a, a + n).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    out.push({ name: prefix ? `${prefix}/${field(0, 100)}` : field(0, 100), type: field(156, 1) || '0', linkname: field(157, 100) });
    off += 512 + Math.ceil(parseInt(field(124, 12).trim() || '0', 8) / 512) * 512;
  }
  return out;
}

/** The uncompressed layers of the one image in an OCI layout. */
export function layoutLayers(layout: string): Buffer[] {
  const blob = (d: string) => fs.readFileSync(path.join(layout, 'blobs/sha256', d.slice(7)));
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const man = JSON.parse(blob(idx.manifests[0].digest).toString());
  return man.layers.map((l: { digest: string; mediaType: string }) => (l.mediaType.endsWith('+gzip') ? zlib.gunzipSync(blob(l.digest)) : blob(l.digest)));
}

export interface Case {
  label: string;
  /** writes the artifact; returns what `sysctr pull` is given */
  make: () => Promise<{ source: string; pullArgs?: string[] }>;
  /** an OCI layout ref of the same artifact for umoci (default: skopeo copy of the source to gzip OCI) */
  umociRef?: string;
}

export interface Matrix {
  work: string;
  root: string;
  registry: Registry;
  tool: ReturnType<typeof containersTool>;
  image: string;
  /** the gzip OCI layout of the built image (the first case); its layers, uncompressed */
  layers: () => Buffer[];
  cache: Map<string, Reference>;
}

/** Builds the image with `tool` on `driver`, and starts a registry on loopback. */
export async function setUp(t: Test, toolName: 'buildah' | 'podman', driver: 'overlay' | 'vfs'): Promise<Matrix> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `sysctr-bld-${toolName}-${driver}-`));
  const registry = await startRegistry();
  t.teardown(async () => {
    await registry.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const tool = containersTool(toolName, driver, path.join(work, 'storage'));
  const ctx = writeContext(path.join(work, 'ctx'));
  const image = `localhost/bld-${toolName}-${driver}:v1`;
  const build = toolName === 'buildah' ? ['bud', '--layers', '--isolation', 'chroot'] : ['build', '--layers', '--isolation', 'chroot'];
  await tool([...build, '-f', path.join(ctx, 'Containerfile'), '-t', image, ctx]);
  const gz = path.join(work, 'oci-gzip');
  return { work, root: path.join(work, 'store'), registry, tool, image, layers: () => layoutLayers(gz), cache: new Map() };
}

/** Runs every case as a subtest: make the artifact, give umoci an OCI layout of it, compare. */
export async function runCases(t: Test, m: Matrix, cases: Case[]): Promise<void> {
  for (const c of cases) {
    await t.test(c.label, async (t) => {
      const { source, pullArgs = [] } = await c.make();
      const umociRef = async () => {
        if (c.umociRef) return c.umociRef;
        const dir = path.join(m.work, `ref-${c.label.replace(/\W+/g, '-')}`);
        const tls = source.startsWith('docker://') ? ['--src-tls-verify=false'] : [];
        await run('skopeo', ['copy', '--quiet', ...tls, '--dest-compress-format', 'gzip', source, `oci:${dir}:ref`]);
        return `${dir}:ref`;
      };
      const r = await pullMatchesUmoci(t, { root: m.root, work: m.work, source, pullArgs, umociRef, label: c.label, cache: m.cache });
      // once per image: the builder kept every awkward entry (not only "the same as umoci")
      if (r && c === cases[0]) assertContent(t, r.tree, c.label);
    });
  }
}

/** The formats both tools write the same way (push to oci:, oci-archive:, docker-archive:, a registry). */
export function pushCases(m: Matrix, toolName: 'buildah' | 'podman'): Case[] {
  const reg = (tag: string) => `docker://${m.registry.host}/bld/${toolName}:${tag}`;
  const tls = ['--tls-verify=false'];
  const w = (f: string) => path.join(m.work, f);
  const push = (args: string[], dest: string) => m.tool(['push', '--quiet', ...args, m.image, dest]);
  const pullReg = (tag: string) => ({ source: reg(tag), pullArgs: ['--tls-verify=false'] });
  return [
    { label: 'oci gzip', umociRef: `${w('oci-gzip')}:v1`, make: async () => (await push([], `oci:${w('oci-gzip')}:v1`), { source: `oci:${w('oci-gzip')}:v1` }) },
    { label: 'oci zstd', make: async () => (await push(['--compression-format', 'zstd'], `oci:${w('oci-zstd')}:v1`), { source: `oci:${w('oci-zstd')}:v1` }) },
    { label: 'oci-archive', make: async () => (await push([], `oci-archive:${w('bld.oci.tar')}:v1`), { source: `oci-archive:${w('bld.oci.tar')}:v1` }) },
    { label: 'docker-archive', make: async () => (await push([], `docker-archive:${w('bld-docker.tar')}:localhost/bld-da:v1`), { source: `docker-archive:${w('bld-docker.tar')}` }) },
    { label: 'registry v2s2', make: async () => (await push([...tls, '--format', 'v2s2'], reg('v2s2')), pullReg('v2s2')) },
    { label: 'registry oci gzip', make: async () => (await push([...tls, '--format', 'oci'], reg('oci')), pullReg('oci')) },
    { label: 'registry oci zstd', make: async () => (await push([...tls, '--format', 'oci', '--compression-format', 'zstd'], reg('zstd')), pullReg('zstd')) },
  ];
}

/** containers/storage's overlay whiteouts: the headers that show the case under test is present. */
export function whiteoutHeaders(layers: Buffer[]): { whiteouts: TarHeader[]; withLink: TarHeader[]; opaque: boolean } {
  const hs = layers.flatMap(tarHeaders);
  const whiteouts = hs.filter((h) => path.basename(h.name).startsWith('.wh.') && h.name !== 'opq/.wh..wh..opq');
  return { whiteouts, withLink: whiteouts.filter((h) => h.type === '0' && h.linkname !== ''), opaque: hs.some((h) => h.name === 'opq/.wh..wh..opq') };
}
