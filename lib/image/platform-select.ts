/**
 * Interim platform choice for pulls from indexes (replaced by lib/image/platform.ts when it lands).
 */
import os from 'node:os';
import { SysctrError, usageError } from '../errors.js';
import type { Descriptor, Platform } from './types.js';

const GOARCH: Record<string, Platform> = {
  x86_64: { os: 'linux', architecture: 'amd64' },
  aarch64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  arm64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  armv7l: { os: 'linux', architecture: 'arm', variant: 'v7' },
  armv6l: { os: 'linux', architecture: 'arm', variant: 'v6' },
  armv5tel: { os: 'linux', architecture: 'arm', variant: 'v5' },
  i686: { os: 'linux', architecture: '386' },
};

export function hostPlatform(): Platform {
  return GOARCH[os.machine()] ?? { os: 'linux', architecture: os.machine() };
}

export function parsePlatform(s: string): Platform {
  const p = s.split('/');
  if (p.length < 2 || p.length > 3 || p.some((x) => !x)) throw usageError(`bad platform "${s}": write os/arch[/variant], e.g. linux/arm/v7`);
  return { os: p[0], architecture: p[1], variant: p[2] };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function matches(have: Platform, want: Platform): boolean {
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  const norm = (p: Platform) => p.variant ?? (p.architecture === 'arm64' ? 'v8' : p.architecture === 'arm' ? 'v7' : '');
  return !want.variant || norm(have) === norm(want);
}

export function choosePlatform(manifests: Descriptor[], wanted: Platform, where: string): Descriptor {
  const found = manifests.find((d) => d.platform && matches(d.platform, wanted)) ?? (manifests.length === 1 && !manifests[0].platform ? manifests[0] : undefined);
  if (!found) {
    const offered = manifests.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
    throw new SysctrError(`${where}: no image for platform ${formatPlatform(wanted)}`, { hint: `the index offers: ${offered}; choose with --platform` });
  }
  return found;
}
