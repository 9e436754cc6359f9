import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { hostIds } from './userns.js';

/**
 * Every location sysctr reads or writes, built once from flags and environment and passed down.
 * No other module reads process.env for paths.
 */
export interface Paths {
  /** state root: the store and the deployments NAME.0 / NAME.1 and the NAME links */
  root: string;
  /** the content-addressed store, inside root */
  store: string;
  /** where units are written (system: /etc/systemd/system) */
  unitDir: string;
  /** where tmpfiles confs are written (system: /etc/tmpfiles.d) */
  tmpfilesDir: string;
  /** user mode (systemctl --user) instead of system mode */
  user: boolean;
  /**
   * user mode as a uid other than 0 (docs/rootless.md): runc runs unprivileged with its state
   * here ($XDG_RUNTIME_DIR/sysctr-runc), the container in a user namespace. Undefined otherwise.
   */
  runcRoot?: string;
  /** where an image's /exports/hostfs files go: `/` (tests point it at a temp dir) */
  hostRoot: string;
  /** containers-policy.json(5) and containers-registries.d(5), read by lib/trust */
  trust: TrustPaths;
  /** containers-registries.conf(5): mirrors, blocked registries, short-name search (lib/image/registries-conf.ts) */
  registriesConf?: { file: string; explicit: boolean };
}

export interface TrustPaths {
  policy: string;
  /** named with --signature-policy: a missing file is then an error, not "accept anything" */
  policyExplicit: boolean;
  registriesDir: string;
  /** where `trust add|default` write: the user's own files in user mode, even before they exist */
  writePolicy: string;
  writeRegistriesDir: string;
}

export interface PathOptions {
  root?: string;
  unitDir?: string;
  tmpfilesDir?: string;
  user?: boolean;
  hostRoot?: string;
  signaturePolicy?: string;
  registriesDir?: string;
  registriesConf?: string;
  /** the uid sysctr runs as on the host (default hostIds().uid): user mode as another uid than 0 is rootless */
  uid?: number;
}

export function resolvePaths(opts: PathOptions = {}, env: NodeJS.ProcessEnv = process.env): Paths {
  const user = opts.user ?? false;
  // the host uid, which only user mode needs: inside the user's namespace (lib/userns-exec.ts)
  // process.getuid() is 0, so hostIds() reads /proc/self/uid_map
  const uid = user ? (opts.uid ?? hostIds().uid) : 0;
  const home = env.HOME ?? os.homedir();
  const defaultRoot = user
    ? path.join(env.XDG_DATA_HOME ?? path.join(home, '.local/share'), 'containers/sysctr')
    : '/var/lib/containers/sysctr';
  const root = path.resolve(opts.root ?? env.SYSCTR_ROOT ?? defaultRoot);
  const defaultUnitDir = user
    ? path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'systemd/user')
    : '/etc/systemd/system';
  const defaultTmpfilesDir = user
    ? path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'user-tmpfiles.d')
    : '/etc/tmpfiles.d';
  return {
    root,
    store: path.join(root, 'store'),
    unitDir: path.resolve(opts.unitDir ?? env.SYSCTR_UNIT_DIR ?? defaultUnitDir),
    tmpfilesDir: path.resolve(opts.tmpfilesDir ?? env.SYSCTR_TMPFILES_DIR ?? defaultTmpfilesDir),
    user,
    runcRoot: user && uid !== 0 ? path.join(userRuntimeDir(uid, env), 'sysctr-runc') : undefined,
    hostRoot: path.resolve(opts.hostRoot ?? env.SYSCTR_HOST_ROOT ?? '/'),
    trust: trustPaths(opts, user, home, env),
    registriesConf: registriesConfPath(opts, user, home, env),
  };
}

/** $XDG_RUNTIME_DIR, or where pam_systemd makes it (/run/user/UID) when a login did not set it (su, runuser, cron). */
export function userRuntimeDir(uid: number, env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_RUNTIME_DIR || `/run/user/${uid}`;
}

/**
 * Where skopeo and podman look: the user's own files when they exist (user mode), else the
 * system's, as containers/image chooses.
 */
function trustPaths(opts: PathOptions, user: boolean, home: string, env: NodeJS.ProcessEnv): TrustPaths {
  const userConf = path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'containers');
  const pick = (name: string) => (user && fs.existsSync(path.join(userConf, name)) ? path.join(userConf, name) : path.join('/etc/containers', name));
  const own = (name: string) => path.join(user ? userConf : '/etc/containers', name);
  return {
    policy: path.resolve(opts.signaturePolicy ?? pick('policy.json')),
    policyExplicit: opts.signaturePolicy !== undefined,
    registriesDir: path.resolve(opts.registriesDir ?? pick('registries.d')),
    writePolicy: path.resolve(opts.signaturePolicy ?? own('policy.json')),
    writeRegistriesDir: path.resolve(opts.registriesDir ?? own('registries.d')),
  };
}

/** The user's registries.conf when it exists (user mode), else the system's, as podman reads them. */
function registriesConfPath(opts: PathOptions, user: boolean, home: string, env: NodeJS.ProcessEnv): { file: string; explicit: boolean } {
  if (opts.registriesConf !== undefined) return { file: path.resolve(opts.registriesConf), explicit: true };
  const own = path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'containers/registries.conf');
  return { file: user && fs.existsSync(own) ? own : '/etc/containers/registries.conf', explicit: false };
}
