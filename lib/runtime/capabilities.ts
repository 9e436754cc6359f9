/**
 * Capabilities sysctr may grant a container: the names table in kernel order
 * (include/uapi/linux/capability.h) cut at /proc/sys/kernel/cap_last_cap, and then to the
 * bounding set of the service manager that will run the unit (lib/runtime/manager-caps.ts reads
 * it). A process cannot gain a capability its bounding set lacks: runc then fails with
 * "unable to apply caps: operation not permitted". Pure logic; docs/runtime.md explains it.
 */
import fs from 'node:fs';
import type { JsonDocument } from '../template/json-locate.js';

export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** The sets of process.capabilities in config.json, in the order warnings name them. */
export const CAPABILITY_SETS = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;

let cached: { caps: string[]; beyondTable: boolean } | undefined;

/** The kernel's names (cut to the table), and whether it knows more than the table. */
export function readKernelCapabilities(capLastCapFile = '/proc/sys/kernel/cap_last_cap'): { caps: string[]; beyondTable: boolean } {
  if (cached && capLastCapFile === '/proc/sys/kernel/cap_last_cap') return cached;
  let last = CAPABILITY_NAMES.length - 1;
  let beyondTable = false;
  try {
    const n = Number.parseInt(fs.readFileSync(capLastCapFile, 'utf8').trim(), 10);
    if (Number.isInteger(n) && n >= 0) {
      beyondTable = n > last;
      last = Math.min(n, last);
    }
  } catch {
    // no /proc (not Linux, or a sandbox): every name in the table
  }
  const r = { caps: CAPABILITY_NAMES.slice(0, last + 1), beyondTable };
  if (capLastCapFile === '/proc/sys/kernel/cap_last_cap') cached = r;
  return r;
}

/**
 * Capability names known to both the kernel and this table. A kernel newer than the table
 * gets the table's names (runc rejects names it does not know anyway).
 */
export function kernelCapabilities(capLastCapFile = '/proc/sys/kernel/cap_last_cap'): string[] {
  return readKernelCapabilities(capLastCapFile).caps;
}


/** A capability mask as /proc/PID/status writes it (`000001fffeffffff`); throws on anything else. */
export function parseCapMask(hex: string): bigint {
  const s = hex.trim();
  if (!/^[0-9a-fA-F]{1,32}$/.test(s)) throw new Error(`not a capability mask: ${JSON.stringify(hex)}`);
  return BigInt(`0x${s}`);
}

/** The mask of one field (CapBnd, CapEff, ...) of a /proc/PID/status text; undefined when absent. */
export function statusCapMask(statusText: string, field = 'CapBnd'): bigint | undefined {
  const m = new RegExp(`^${field}:\\s*(\\S+)\\s*$`, 'm').exec(statusText);
  return m ? parseCapMask(m[1]) : undefined;
}

/** The names of `names` whose bit is set in `mask` (bit N is capability number N), in that order. */
export function namesInMask(mask: bigint, names: readonly string[] = CAPABILITY_NAMES): string[] {
  return names.filter((n) => {
    const i = CAPABILITY_NAMES.indexOf(n);
    return i >= 0 && ((mask >> BigInt(i)) & 1n) === 1n;
  });
}

/** What sysctr may grant on this host, and whom it asked. */
export interface Grantable {
  /** the capabilities sysctr grants: the kernel's, cut to the manager's bounding set (kernel order) */
  names: string[];
  /** the capabilities the kernel knows (those in sysctr's table) */
  kernel: string[];
  /** whose bounding set it is, for messages: "PID 1 (the system manager)" */
  manager: string;
  /** when the manager's own set could not be read: why, and what stands in for it */
  note?: string;
  /** the kernel knows capabilities beyond sysctr's table: a name sysctr does not know may be one */
  kernelBeyondTable?: boolean;
}

/** The kernel's names cut to `mask` (none given: the manager is unknown, nothing is cut). */
export function grantable(o: { kernel: string[]; mask?: bigint; manager: string; note?: string; kernelBeyondTable?: boolean }): Grantable {
  const names = o.mask === undefined ? [...o.kernel] : namesInMask(o.mask, o.kernel);
  return { names, kernel: [...o.kernel], manager: o.manager, note: o.note, kernelBeyondTable: o.kernelBeyondTable };
}

/** Everything the kernel knows: for rendering with no host to ask (lint, tests). */
export function kernelGrantable(capLastCapFile = '/proc/sys/kernel/cap_last_cap'): Grantable {
  const k = readKernelCapabilities(capLastCapFile);
  return grantable({ kernel: k.caps, manager: 'the kernel', kernelBeyondTable: k.beyondTable });
}

export interface DroppedCapability {
  name: string;
  /** the sets of process.capabilities that named it */
  sets: string[];
  /** bounding: the kernel knows it, the manager's bounding set lacks it; unknown: the kernel does not know it */
  why: 'bounding' | 'unknown';
}

/**
 * The names in process.capabilities' sets that the container cannot get. A name sysctr's table
 * does not know is kept when the kernel knows more capabilities than the table (it may be one).
 */
export function capabilitiesToDrop(config: unknown, g: Grantable): DroppedCapability[] {
  const caps = (config as { process?: { capabilities?: Record<string, unknown> } } | undefined)?.process?.capabilities;
  if (!caps || typeof caps !== 'object') return [];
  const granted = new Set(g.names);
  const known = new Set(g.kernel);
  const byName = new Map<string, DroppedCapability>();
  for (const set of CAPABILITY_SETS) {
    const list = caps[set];
    if (!Array.isArray(list)) continue;
    for (const name of list) {
      if (typeof name !== 'string' || granted.has(name)) continue;
      let why: DroppedCapability['why'];
      if (known.has(name)) why = 'bounding';
      else if (g.kernelBeyondTable && !CAPABILITY_NAMES.includes(name)) continue;
      else why = 'unknown';
      const d = byName.get(name) ?? { name, sets: [], why };
      if (!d.sets.includes(set)) d.sets.push(set);
      byName.set(name, d);
    }
  }
  // kernel order, then unknown names alphabetically
  const order = (n: string) => (CAPABILITY_NAMES.includes(n) ? CAPABILITY_NAMES.indexOf(n) : CAPABILITY_NAMES.length);
  return [...byName.values()].sort((a, b) => order(a.name) - order(b.name) || a.name.localeCompare(b.name));
}

/** Offset just past the JSON string starting at `start` (its opening quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/**
 * config.json text without the named capabilities, edited in place so the rest of the file (and
 * its layout) is the image's own: an element is removed with the comma and spacing that follow
 * it, or, the last one kept, with the comma and spacing before it. `doc` is `text` parsed.
 */
export function removeCapabilities(text: string, doc: JsonDocument, drop: ReadonlySet<string>): string {
  const caps = (doc.value as { process?: { capabilities?: Record<string, unknown> } }).process?.capabilities ?? {};
  const cuts: Array<[number, number]> = [];
  for (const set of CAPABILITY_SETS) {
    const list = caps[set];
    if (!Array.isArray(list)) continue;
    const spans = list.map((v, i) => {
      const start = doc.locations.get(`/process/capabilities/${set}/${i}`)!.valueOffset;
      return { start, end: typeof v === 'string' ? stringEnd(text, start) : start, remove: typeof v === 'string' && drop.has(v) };
    });
    for (let i = 0; i < spans.length; i++) {
      if (!spans[i].remove) continue;
      const next = spans.slice(i + 1).findIndex((s) => !s.remove);
      if (next >= 0) cuts.push([spans[i].start, spans[i + 1 + next].start]);
      else {
        // from here to the end of the list all go: cut back to the last one kept
        const prev = spans.slice(0, i).reverse().find((s) => !s.remove);
        cuts.push([prev ? prev.end : spans[i].start, spans[spans.length - 1].end]);
        break;
      }
      // the cut above covered every removed element up to the next kept one
      i += next;
    }
  }
  let out = text;
  for (const [a, b] of cuts.sort((x, y) => y[0] - x[0])) out = out.slice(0, a) + out.slice(b);
  return out;
}

const list = (names: string[]) => names.join(', ');

/** The warnings for what was left out, each naming the capabilities and why. */
export function capabilityWarnings(dropped: DroppedCapability[], g: Grantable, cutFromAll: string[] = []): string[] {
  const out: string[] = [];
  const note = g.note ? ` (${g.note})` : '';
  const it = (n: unknown[]) => (n.length > 1 ? 'them' : 'it');
  if (cutFromAll.length) {
    out.push(`ALL_PROCESS_CAPABILITIES leaves out ${list(cutFromAll)}: the bounding set of ${g.manager} lacks ${it(cutFromAll)}${note}; the service runs without ${it(cutFromAll)}`);
  }
  const sets = (ds: DroppedCapability[]) =>
    [...new Set(ds.flatMap((d) => d.sets))].sort((a, b) => CAPABILITY_SETS.indexOf(a as never) - CAPABILITY_SETS.indexOf(b as never));
  const bounding = dropped.filter((d) => d.why === 'bounding');
  if (bounding.length) {
    const names = bounding.map((d) => d.name);
    out.push(
      `config.json asks for ${list(names)} (process.capabilities ${list(sets(bounding))}), but the bounding set of ${g.manager} lacks ${it(names)}${note}, ` +
        `so runc cannot grant ${it(names)} (asked to, it fails: "unable to apply caps: operation not permitted"); left out of config.json: the service runs without ${it(names)}`,
    );
  }
  const unknown = dropped.filter((d) => d.why === 'unknown');
  if (unknown.length) {
    const names = unknown.map((d) => d.name);
    out.push(`config.json names ${list(names)} (process.capabilities ${list(sets(unknown))}), which this kernel does not know (runc ignores such names); left out of config.json`);
  }
  return out;
}

/**
 * config.json text cut to what can be granted, and the warnings saying what was left out.
 * The text is returned unchanged when nothing is left out.
 */
export function grantableConfig(text: string, doc: JsonDocument, g: Grantable): { text: string; dropped: DroppedCapability[] } {
  const dropped = capabilitiesToDrop(doc.value, g);
  if (!dropped.length) return { text, dropped };
  return { text: removeCapabilities(text, doc, new Set(dropped.map((d) => d.name))), dropped };
}
