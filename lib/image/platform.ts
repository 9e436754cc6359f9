/**
 * Platforms (os/arch/variant): the host's, parsing `--platform`, and picking a manifest from an
 * index. Normalisation and the compatibility order follow containerd's `platforms` package:
 * arm64's variant v8 is the default and compares equal to none, plain `arm` means arm/v7, and a
 * host may fall back to older variants it can run (arm/v7 -> v6 -> v5, amd64 -> 386).
 */
import os from 'node:os';
import { SysctrError, usageError } from '../errors.js';
import type { Descriptor, Platform } from './types.js';

/** `uname -m` machine names mapped to GOARCH (+ variant), as images name them. */
const MACHINE_TO_GOARCH: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  amd64: { architecture: 'amd64' },
  aarch64: { architecture: 'arm64', variant: 'v8' },
  arm64: { architecture: 'arm64', variant: 'v8' },
  armv8l: { architecture: 'arm', variant: 'v8' },
  armv7l: { architecture: 'arm', variant: 'v7' },
  armv6l: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  i486: { architecture: '386' },
  i586: { architecture: '386' },
  i686: { architecture: '386' },
  ppc64le: { architecture: 'ppc64le' },
  ppc64: { architecture: 'ppc64' },
  s390x: { architecture: 's390x' },
  riscv64: { architecture: 'riscv64' },
  mips64: { architecture: 'mips64' },
  loongarch64: { architecture: 'loong64' },
};

/** The platform of a machine named as `uname -m` does (defaults to this host's). */
export function hostPlatform(machine: string = os.machine()): Platform {
  let m = MACHINE_TO_GOARCH[machine];
  if (!m && /^armv5/.test(machine)) m = { architecture: 'arm', variant: 'v5' };
  if (!m) m = { architecture: machine };
  return { os: 'linux', ...m };
}

/** containerd's normalisation: lower case, aliases folded, default variants made explicit or dropped. */
export function normalizePlatform(p: Platform): Platform {
  const osName = (p.os || 'linux').toLowerCase();
  let arch = (p.architecture || '').toLowerCase();
  let variant = (p.variant || '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  return variant ? { os: osName, architecture: arch, variant } : { os: osName, architecture: arch };
}

/** `linux/arm/v7` style; what users type and what errors print. */
export function formatPlatform(p: Platform): string {
  return [p.os || 'unknown', p.architecture || 'unknown', p.variant].filter(Boolean).join('/');
}

const PART = /^[a-z0-9_.-]+$/;

/** Parses `os/arch[/variant]` (e.g. linux/arm/v7); anything else is a usage error. */
export function parsePlatform(spec: string): Platform {
  const parts = spec.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PART.test(p))) {
    throw usageError(`invalid platform "${spec}": expected OS/ARCH[/VARIANT]`, 'for example --platform linux/arm64 or linux/arm/v7');
  }
  const [osName, architecture, variant] = parts;
  return variant ? { os: osName, architecture, variant } : { os: osName, architecture };
}

function samePlatform(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a);
  const y = normalizePlatform(b);
  return x.os === y.os && x.architecture === y.architecture && (x.variant ?? '') === (y.variant ?? '');
}

/**
 * The platforms a machine of platform `p` runs, best first (containerd's `platforms.Only`):
 * itself, then older arm variants, 386 on amd64, 32-bit arm on arm64.
 */
export function compatiblePlatforms(p: Platform): Platform[] {
  const n = normalizePlatform(p);
  const out: Platform[] = [n];
  const armDown = (from: number) => {
    for (let v = from; v >= 5; v--) out.push({ os: n.os, architecture: 'arm', variant: `v${v}` });
  };
  if (n.architecture === 'amd64') out.push({ os: n.os, architecture: '386' });
  if (n.architecture === 'arm') {
    const v = Number((n.variant ?? '').replace(/^v/, ''));
    if (Number.isInteger(v)) armDown(v - 1);
  }
  if (n.architecture === 'arm64') armDown(8);
  return out;
}

export interface SelectOptions {
  /**
   * Also accept platforms the wanted one can run (the host default). An explicit `--platform`
   * selects strictly: exactly that os/arch/variant after normalisation.
   */
  compatible?: boolean;
  /** the image, for the error message */
  image?: string;
}

/** Index entries that describe runnable images (not attestations or unknown/unknown). */
function platformEntries(manifests: Descriptor[]): Descriptor[] {
  return manifests.filter((d) => d.platform && d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown');
}

/**
 * Picks the manifest for `wanted` from an index's `manifests`. Nested indexes are the caller's
 * business (it fetches the chosen child and calls again). When nothing matches, the error lists
 * every platform the index offers.
 */
export function selectManifest(manifests: Descriptor[], wanted: Platform, opts: SelectOptions = {}): Descriptor {
  const entries = platformEntries(manifests);
  const candidates = opts.compatible ? compatiblePlatforms(wanted) : [wanted];
  for (const c of candidates) {
    const hit = entries.find((d) => samePlatform(d.platform!, c));
    if (hit) return hit;
  }
  // containerd takes an entry that names no platform as a match (its config tells the truth)
  const unnamed = manifests.find((d) => !d.platform);
  if (unnamed) return unnamed;
  const offered = [...new Set(entries.map((d) => formatPlatform(d.platform!)))];
  const where = opts.image ? ` in ${opts.image}` : '';
  throw new SysctrError(
    `no image for platform ${formatPlatform(wanted)}${where}; the index offers: ${offered.length ? offered.join(', ') : 'no platforms at all'}`,
    { hint: offered.length ? `choose one with --platform, e.g. --platform ${offered[0]}` : undefined },
  );
}
