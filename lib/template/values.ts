/**
 * Template variable values and who may set them (docs/design.md, values): `--set` > manifest.json defaultValues >
 * OS defaults; the forced variables always win and cannot be set.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { usageError } from '../errors.js';

/** Variables sysctr computes; `--set` of one is a usage error. */
export const FORCED_VARIABLES = [
  'DESTDIR', 'NAME', 'EXEC_START', 'EXEC_STOP', 'EXEC_STARTPRE', 'EXEC_STOPPOST',
  'HOST_UID', 'HOST_GID', 'IMAGE_NAME', 'IMAGE_ID',
] as const;

/** Variables with an OS default, which `--set` and manifest defaults may override. */
export const OS_DEFAULT_VARIABLES = [
  'RUN_DIRECTORY', 'STATE_DIRECTORY', 'CONF_DIRECTORY', 'PIDFILE', 'UUID', 'ALL_PROCESS_CAPABILITIES', 'RUNTIME',
] as const;

const NAME_RE = /^[_A-Za-z][_A-Za-z0-9]*$/;

export function isForced(name: string): boolean {
  return (FORCED_VARIABLES as readonly string[]).includes(name);
}

/** Parses `--set K=V` arguments (repeatable). Usage errors: no `=`, a bad name, a forced variable. */
export function parseSetArgs(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const s = String(item);
    const eq = s.indexOf('=');
    if (eq < 0) throw usageError(`--set ${s}: expected NAME=VALUE`, `e.g. --set ${s || 'PORT'}=...`);
    const name = s.slice(0, eq);
    if (!NAME_RE.test(name)) throw usageError(`--set ${s}: "${name}" is not a variable name`, 'a name is [_A-Za-z][_A-Za-z0-9]*');
    if (isForced(name)) throw usageError(`--set ${name}: ${name} is set by sysctr and cannot be changed`, `sysctr sets ${FORCED_VARIABLES.join(', ')}`);
    out[name] = s.slice(eq + 1);
  }
  return out;
}

export interface OsDefaultsInput {
  name: string;
  user: boolean;
  hostUid: number;
  runtime: string;
  env?: NodeJS.ProcessEnv;
}

/** RUN/STATE/CONF_DIRECTORY, ALL_PROCESS_CAPABILITIES, RUNTIME (PIDFILE and UUID depend on other values). */
export function osDirectoryDefaults(o: OsDefaultsInput): Record<string, string> {
  const env = o.env ?? process.env;
  const home = env.HOME ?? os.homedir();
  return o.user
    ? {
        RUN_DIRECTORY: env.XDG_RUNTIME_DIR ?? `/run/user/${o.hostUid}`,
        STATE_DIRECTORY: env.XDG_DATA_HOME ?? path.join(home, '.local/share'),
        CONF_DIRECTORY: env.XDG_CONFIG_HOME ?? path.join(home, '.config'),
      }
    : { RUN_DIRECTORY: '/run', STATE_DIRECTORY: '/var/lib', CONF_DIRECTORY: '/etc' };
}

export interface ValuesInput extends OsDefaultsInput {
  destdir: string;
  hostGid: number;
  imageName: string;
  imageId: string;
  set: Record<string, string>;
  manifestDefaults: Record<string, string>;
  /** values kept from the previous deployment (UUID) */
  keep?: Record<string, string>;
  /** the capabilities sysctr may grant (lib/runtime/manager-caps.ts), the default of ALL_PROCESS_CAPABILITIES */
  capabilities: string[];
}

/**
 * Every value except the EXEC_* commands (they depend on PIDFILE and RUNTIME, so the caller adds
 * them). Precedence: forced > --set > manifest defaults > kept (UUID) > OS defaults.
 */
export function resolveValues(v: ValuesInput): Record<string, string> {
  for (const k of Object.keys(v.set)) {
    if (isForced(k)) throw usageError(`--set ${k}: ${k} is set by sysctr and cannot be changed`);
  }
  const chosen = (k: string, fallback: () => string): string =>
    Object.hasOwn(v.set, k) ? v.set[k] : Object.hasOwn(v.manifestDefaults, k) ? v.manifestDefaults[k] : fallback();
  const values: Record<string, string> = {};
  // manifest defaults first, then --set over them
  Object.assign(values, v.manifestDefaults, v.set);
  const dirs = osDirectoryDefaults(v);
  for (const [k, def] of Object.entries(dirs)) values[k] = chosen(k, () => def);
  values.PIDFILE = chosen('PIDFILE', () => `${values.RUN_DIRECTORY}/container-${v.name}.pid`);
  values.UUID = chosen('UUID', () => v.keep?.UUID ?? crypto.randomUUID());
  values.ALL_PROCESS_CAPABILITIES = chosen('ALL_PROCESS_CAPABILITIES', () => allProcessCapabilities(v.capabilities));
  values.RUNTIME = chosen('RUNTIME', () => v.runtime);
  // forced: always win
  values.DESTDIR = v.destdir;
  values.NAME = v.name;
  values.HOST_UID = String(v.hostUid);
  values.HOST_GID = String(v.hostGid);
  values.IMAGE_NAME = v.imageName;
  values.IMAGE_ID = v.imageId;
  return values;
}

/** `"CAP_X",\n"CAP_Y"`: the value of ALL_PROCESS_CAPABILITIES, for use inside a JSON array. */
export function allProcessCapabilities(caps: string[]): string {
  return caps.map((c) => `"${c}"`).join(',\n');
}
