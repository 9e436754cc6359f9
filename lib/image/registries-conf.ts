/**
 * containers-registries.conf(5), version 2, the part that matters for pulls: `[[registry]]`
 * prefix/location/insecure/blocked, its `[[registry.mirror]]` list and pull-from-mirror, and
 * unqualified-search-registries. Read strictly: an unknown key or a bad value is refused with the
 * file and the key, since a mistyped "mirror" silently ignored would pull from elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { SysctrError } from '../errors.js';
import type { ImageReference } from './reference.js';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface MirrorEntry {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
}

export interface RegistryEntry {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: MirrorEntry[];
  /** file:key, for messages */
  where: string;
}

export interface RegistriesConf {
  registries: RegistryEntry[];
  /** undefined: no file set it */
  unqualifiedSearch?: string[];
  /** the files read, in order */
  files: string[];
}

/** One place to try: `registry` and the repository path there; `mirror` false for the primary. */
export interface Endpoint {
  ref: ImageReference;
  insecure: boolean;
  mirror: boolean;
}

const TOP_KEYS = new Set(['unqualified-search-registries', 'registry', 'short-name-mode', 'aliases', 'credential-helpers']);
const REGISTRY_KEYS = new Set(['prefix', 'location', 'insecure', 'blocked', 'mirror', 'mirror-by-digest-only']);
const MIRROR_KEYS = new Set(['location', 'insecure', 'pull-from-mirror']);
const PULL_FROM = ['all', 'digest-only', 'tag-only'];
// host[:port] or [*.]host, then /path components
const LOCATION = /^(?:\*\.)?[a-zA-Z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._/-]*[a-z0-9])?$/;

function bad(file: string, key: string, why: string): SysctrError {
  return new SysctrError(`${file}: ${key}: ${why}`, { hint: 'see containers-registries.conf(5), version 2; fix or remove the entry' });
}

function str(v: unknown, file: string, key: string): string {
  if (typeof v !== 'string') throw bad(file, key, 'must be a string');
  return v;
}

function bool(v: unknown, file: string, key: string): boolean {
  if (typeof v !== 'boolean') throw bad(file, key, 'must be true or false');
  return v;
}

function location(v: unknown, file: string, key: string, wildcard: boolean): string {
  const s = str(v, file, key).replace(/\/+$/, '');
  if (s.includes('://')) throw bad(file, key, `"${s}" has a URL scheme; write host[:port][/path]`);
  if (!LOCATION.test(s) || (!wildcard && s.startsWith('*.'))) throw bad(file, key, `"${s}" is not host[:port][/path]`);
  return s;
}

/** Parses one file's text; `file` names it in errors. */
export function parseRegistriesConf(text: string, file: string): Omit<RegistriesConf, 'files'> {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new SysctrError(`${file}: not valid TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  if ('registries' in doc) throw bad(file, 'registries', 'the version 1 format ([registries.search]) is not read; write version 2 ([[registry]] tables)');
  for (const k of Object.keys(doc)) if (!TOP_KEYS.has(k)) throw bad(file, k, 'unknown key');
  const out: Omit<RegistriesConf, 'files'> = { registries: [] };
  if (doc['unqualified-search-registries'] !== undefined) {
    const u = doc['unqualified-search-registries'];
    if (!Array.isArray(u)) throw bad(file, 'unqualified-search-registries', 'must be a list of registry hosts');
    out.unqualifiedSearch = u.map((h, i) => location(h, file, `unqualified-search-registries[${i}]`, false));
  }
  const regs = doc.registry ?? [];
  if (!Array.isArray(regs)) throw bad(file, 'registry', 'must be [[registry]] tables');
  regs.forEach((r: unknown, i: number) => {
    const at = `registry[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw bad(file, at, 'must be a table');
    const t = r as Record<string, unknown>;
    for (const k of Object.keys(t)) if (!REGISTRY_KEYS.has(k)) throw bad(file, `${at}.${k}`, 'unknown key');
    if (t.prefix === undefined && t.location === undefined) throw bad(file, at, 'needs a prefix or a location');
    // without a prefix the location is the prefix, and a bad one is named as what was written
    const prefix = location(t.prefix ?? t.location, file, t.prefix === undefined ? `${at}.location` : `${at}.prefix`, true);
    const loc = t.location === undefined ? (prefix.startsWith('*.') ? '' : prefix) : location(t.location, file, `${at}.location`, false);
    if (prefix.startsWith('*.') && t.location !== undefined) throw bad(file, `${at}.location`, 'a wildcard prefix ("*.") cannot have a location');
    const byDigestOnly = t['mirror-by-digest-only'] === undefined ? false : bool(t['mirror-by-digest-only'], file, `${at}.mirror-by-digest-only`);
    const mirrorsRaw = t.mirror ?? [];
    if (!Array.isArray(mirrorsRaw)) throw bad(file, `${at}.mirror`, 'must be [[registry.mirror]] tables');
    const mirrors = mirrorsRaw.map((m: unknown, j: number): MirrorEntry => {
      const mat = `${at}.mirror[${j}]`;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad(file, mat, 'must be a table');
      const mt = m as Record<string, unknown>;
      for (const k of Object.keys(mt)) if (!MIRROR_KEYS.has(k)) throw bad(file, `${mat}.${k}`, 'unknown key');
      if (mt.location === undefined) throw bad(file, `${mat}.location`, 'missing');
      let pull: PullFromMirror = byDigestOnly ? 'digest-only' : 'all';
      if (mt['pull-from-mirror'] !== undefined) {
        const p = str(mt['pull-from-mirror'], file, `${mat}.pull-from-mirror`);
        if (!PULL_FROM.includes(p)) throw bad(file, `${mat}.pull-from-mirror`, `"${p}": write one of ${PULL_FROM.join(', ')}`);
        pull = p as PullFromMirror;
      }
      return {
        location: location(mt.location, file, `${mat}.location`, false),
        insecure: mt.insecure === undefined ? false : bool(mt.insecure, file, `${mat}.insecure`),
        pullFromMirror: pull,
      };
    });
    out.registries.push({
      prefix,
      location: loc,
      insecure: t.insecure === undefined ? false : bool(t.insecure, file, `${at}.insecure`),
      blocked: t.blocked === undefined ? false : bool(t.blocked, file, `${at}.blocked`),
      mirrors,
      where: `${file}: ${at}`,
    });
  });
  return out;
}

/**
 * Reads `file` and then its drop-ins (`FILE.d`'s sibling `registries.conf.d/*.conf`, by name):
 * a later [[registry]] with the same prefix replaces the earlier one, and a later
 * unqualified-search-registries replaces the list. An explicit file is read alone.
 */
export function readRegistriesConf(file: string, opts: { explicit?: boolean } = {}): RegistriesConf {
  const files: string[] = [];
  if (fs.existsSync(file)) files.push(file);
  else if (opts.explicit) throw new SysctrError(`${file}: no such registries.conf file`, { hint: 'name an existing file with --registries-conf' });
  if (!opts.explicit) {
    const dir = path.join(path.dirname(file), 'registries.conf.d');
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.conf')).sort();
    } catch {
      // no drop-in directory
    }
    files.push(...names.map((n) => path.join(dir, n)));
  }
  const conf: RegistriesConf = { registries: [], files };
  for (const f of files) {
    const one = parseRegistriesConf(fs.readFileSync(f, 'utf8'), f);
    if (one.unqualifiedSearch) conf.unqualifiedSearch = one.unqualifiedSearch;
    for (const r of one.registries) {
      const i = conf.registries.findIndex((x) => x.prefix === r.prefix);
      if (i >= 0) conf.registries[i] = r;
      else conf.registries.push(r);
    }
  }
  return conf;
}

/** Does `prefix` match the name `registry/repository`? Returns the length matched (0: no). */
function matchLength(prefix: string, name: string, registry: string): number {
  if (prefix.startsWith('*.')) {
    const suffix = prefix.slice(1);
    return registry.endsWith(suffix) && registry.length > suffix.length ? prefix.length : 0;
  }
  return name === prefix || name.startsWith(`${prefix}/`) ? prefix.length : 0;
}

/** The [[registry]] for a reference: the longest matching prefix. */
export function findRegistry(conf: RegistriesConf, ref: ImageReference): RegistryEntry | undefined {
  const name = `${ref.registry}/${ref.repository}`;
  let best: RegistryEntry | undefined;
  let bestLen = 0;
  for (const r of conf.registries) {
    const n = matchLength(r.prefix, name, ref.registry);
    if (n > bestLen) [best, bestLen] = [r, n];
  }
  return best;
}

/** `location` + what of the name the prefix did not match, split back into registry and path. */
function rewrite(ref: ImageReference, prefix: string, loc: string): ImageReference {
  const name = `${ref.registry}/${ref.repository}`;
  const rest = prefix.startsWith('*.') ? name : loc + name.slice(prefix.length);
  const slash = rest.indexOf('/');
  return { ...ref, registry: rest.slice(0, slash), repository: rest.slice(slash + 1) };
}

/**
 * Where to pull `ref` from, in order: the mirrors whose pull-from-mirror allows this kind of
 * reference, then the primary (prefix rewritten to location). Refuses a blocked registry.
 */
export function endpointsFor(conf: RegistriesConf, ref: ImageReference): Endpoint[] {
  const reg = findRegistry(conf, ref);
  if (!reg) return [{ ref, insecure: false, mirror: false }];
  const shown = `${ref.registry}/${ref.repository}`;
  if (reg.blocked) {
    throw new SysctrError(`${shown}: pulling from this registry is blocked (${reg.where}, prefix "${reg.prefix}", blocked = true)`, {
      hint: 'pull it from another registry, or change that entry',
    });
  }
  const out: Endpoint[] = [];
  for (const m of reg.mirrors) {
    if (m.pullFromMirror === 'digest-only' && !ref.digest) continue;
    if (m.pullFromMirror === 'tag-only' && ref.digest) continue;
    out.push({ ref: rewrite(ref, reg.prefix, m.location), insecure: m.insecure, mirror: true });
  }
  const primary = reg.prefix.startsWith('*.') || !reg.location ? ref : rewrite(ref, reg.prefix, reg.location);
  out.push({ ref: primary, insecure: reg.insecure, mirror: false });
  return out;
}

/**
 * A short name (`etcd`, no registry host): with one unqualified-search registry it is pulled
 * from there; with several sysctr does not guess (a short name could resolve to an impostor on
 * the first registry that answers), it refuses listing them. Returns the reference to pull, or
 * the input unchanged when it is qualified or no search list is set (docker.io then, as always).
 */
export function qualifyShortName(input: string, conf: RegistriesConf): string {
  const first = input.split('/')[0];
  const qualified = input.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (qualified || !conf.unqualifiedSearch || conf.unqualifiedSearch.length === 0) return input;
  if (conf.unqualifiedSearch.length === 1) return `${conf.unqualifiedSearch[0]}/${input}`;
  throw new SysctrError(`"${input}" is a short name and registries.conf lists several unqualified-search-registries: ${conf.unqualifiedSearch.join(', ')}`, {
    hint: `write the registry, e.g. ${conf.unqualifiedSearch[0]}/${input}`,
  });
}
