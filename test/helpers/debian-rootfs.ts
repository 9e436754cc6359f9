/**
 * A Debian 12 root filesystem with some packages, built with mmdebstrap from the package sources
 * apt uses on this machine, and kept between runs under /var/cache/sysctr-test (or
 * SYSCTR_TEST_CACHE), one directory per package list and sources file. Building one takes ~30 s;
 * a test that finds it missing builds it. Documentation is left out, as the images' Dockerfiles
 * install with `tsflags=nodocs`.
 */
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const SOURCE_LISTS = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];

/** The first apt sources file this machine has, or undefined. */
export function aptSources(): string | undefined {
  return SOURCE_LISTS.find((f) => fs.existsSync(f) && fs.statSync(f).size > 0);
}

export function cacheRoot(): string {
  return process.env.SYSCTR_TEST_CACHE ?? '/var/cache/sysctr-test';
}

const NODOCS = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*', '/usr/share/lintian/*'];

/** Where the rootfs for these packages lives (whether it is built yet or not). */
export function rootfsDir(packages: string[], sources = aptSources()): string {
  const list = [...new Set(packages)].sort();
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({ list, sources: sources ? fs.readFileSync(sources, 'utf8') : '', nodocs: NODOCS }))
    .digest('hex')
    .slice(0, 16);
  return path.join(cacheRoot(), `bookworm-${list.join('_').slice(0, 60)}-${key}`);
}

/**
 * The rootfs, built first when the cache lacks it. Built beside its final name and renamed, so an
 * interrupted build is never taken for a finished one; two builders racing both succeed.
 */
export async function debianRootfs(packages: string[], log: (s: string) => void = () => {}): Promise<string> {
  const sources = aptSources();
  if (!sources) throw new Error(`no apt sources file (${SOURCE_LISTS.join(', ')}): mmdebstrap has nowhere to fetch packages from`);
  const dir = rootfsDir(packages, sources);
  if (fs.existsSync(path.join(dir, 'usr/bin'))) return dir;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  log(`building a Debian 12 rootfs with ${packages.join(', ')} in ${dir} (mmdebstrap, ~30 s)`);
  const started = Date.now();
  const r = await execa(
    'mmdebstrap',
    [
      '--mode=root',
      '--variant=minbase',
      `--include=${packages.join(',')}`,
      ...NODOCS.map((p) => `--dpkgopt=path-exclude=${p}`),
      'bookworm',
      tmp,
      sources,
    ],
    { reject: false, all: true },
  );
  if (r.exitCode !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`mmdebstrap failed (exit ${r.exitCode}):\n${String(r.all).slice(-3000)}`);
  }
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    // another run finished the same rootfs first: use it
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, 'usr/bin'))) throw err;
  }
  log(`built ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return dir;
}
