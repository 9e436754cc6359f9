/**
 * The capabilities this kernel knows, for ALL_PROCESS_CAPABILITIES: the names table in kernel
 * order (include/uapi/linux/capability.h), cut at /proc/sys/kernel/cap_last_cap.
 */
import fs from 'node:fs';

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

let cached: string[] | undefined;

/**
 * Capability names known to both the kernel and this table. A kernel newer than the table
 * gets the table's names (runc rejects names it does not know anyway).
 */
export function kernelCapabilities(capLastCapFile = '/proc/sys/kernel/cap_last_cap'): string[] {
  if (cached && capLastCapFile === '/proc/sys/kernel/cap_last_cap') return cached;
  let last = CAPABILITY_NAMES.length - 1;
  try {
    const n = Number.parseInt(fs.readFileSync(capLastCapFile, 'utf8').trim(), 10);
    if (Number.isInteger(n) && n >= 0) last = Math.min(n, last);
  } catch {
    // no /proc (not Linux, or a sandbox): every name in the table
  }
  const caps = CAPABILITY_NAMES.slice(0, last + 1);
  if (capLastCapFile === '/proc/sys/kernel/cap_last_cap') cached = caps;
  return caps;
}

/** `"CAP_X",\n"CAP_Y"`: the value of ALL_PROCESS_CAPABILITIES, for use inside a JSON array. */
export function allProcessCapabilities(caps: string[] = kernelCapabilities()): string {
  return caps.map((c) => `"${c}"`).join(',\n');
}
