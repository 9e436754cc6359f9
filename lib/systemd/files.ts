/**
 * The host files of one container: the unit, its sysctr drop-in, the tmpfiles conf. Written through
 * a temp file and a rename, so systemd never reads half a unit. Units sysctr writes start with a
 * header line, which is how sysctr tells its own units from someone else's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError, isErrno } from '../errors.js';
import { writeFileAtomic as writeAtomic } from '../fsutil.js';
import type { Paths } from '../paths.js';
import { DROPIN_NAME, MANAGED_HEADER } from './managed.js';

// the project's one atomic write (temp beside the target + rename), under the name deploy/ uses
export { writeAtomic };

export interface UnitFiles {
  unit: string;
  dropInDir: string;
  dropIn: string;
  tmpfiles: string;
}

export function unitFilesFor(paths: Pick<Paths, 'unitDir' | 'tmpfilesDir'>, name: string): UnitFiles {
  const dropInDir = path.join(paths.unitDir, `${name}.service.d`);
  return {
    unit: path.join(paths.unitDir, `${name}.service`),
    dropInDir,
    dropIn: path.join(dropInDir, DROPIN_NAME),
    tmpfiles: path.join(paths.tmpfilesDir, `${name}.conf`),
  };
}

/** The unit text as written: the header line, then the rendered unit. */
export function withHeader(name: string, unit: string): string {
  return `${MANAGED_HEADER} for container ${name}; do not edit. Removed by: sysctr uninstall ${name}\n${unit}`;
}

function readHead(file: string): string | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(256);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export type UnitOwner = 'absent' | 'sysctr' | 'foreign';

/** Who wrote UNIT_DIR/NAME.service: nobody, sysctr (header or drop-in), or someone else. */
export function unitOwner(f: UnitFiles): UnitOwner {
  const head = readHead(f.unit);
  if (head === undefined) {
    try {
      fs.lstatSync(f.unit); // a dangling symlink (e.g. to /dev/null: a masked unit) is still someone's
      return 'foreign';
    } catch {
      return 'absent';
    }
  }
  if (head.startsWith(MANAGED_HEADER)) return 'sysctr';
  return 'foreign';
}

/**
 * Who wrote TMPFILES_DIR/NAME.conf: sysctr when it is, byte for byte, one of the container's
 * deployments' copies (sysctr writes the rendered conf as it is), or starts with sysctr's header.
 */
export function tmpfilesOwner(f: UnitFiles, copies: string[] = []): UnitOwner {
  let text: string;
  try {
    text = fs.readFileSync(f.tmpfiles, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      try {
        fs.lstatSync(f.tmpfiles);
        return 'foreign'; // a dangling symlink is still someone's
      } catch {
        return 'absent';
      }
    }
    throw err;
  }
  if (text.startsWith(MANAGED_HEADER) || copies.includes(text)) return 'sysctr';
  return 'foreign';
}

/** Who wrote the drop-in sysctr keeps in NAME.service.d/: it starts with the header when sysctr did. */
export function dropInOwner(f: UnitFiles): UnitOwner {
  const head = readHead(f.dropIn);
  if (head === undefined) {
    try {
      fs.lstatSync(f.dropIn);
      return 'foreign';
    } catch {
      return 'absent';
    }
  }
  return head.startsWith(MANAGED_HEADER) ? 'sysctr' : 'foreign';
}

/** Where systemd looks for units and tmpfiles confs besides the dirs sysctr writes to (systemd.unit(5), tmpfiles.d(5)). */
export function searchPaths(user: boolean, home = process.env.HOME ?? ''): { units: string[]; tmpfiles: string[] } {
  if (user) {
    return {
      units: ['/usr/lib/systemd/user', '/lib/systemd/user', '/usr/local/lib/systemd/user', '/etc/systemd/user', '/run/systemd/user', `${home}/.local/share/systemd/user`],
      tmpfiles: ['/usr/share/user-tmpfiles.d', '/etc/xdg/user-tmpfiles.d', `${home}/.local/share/user-tmpfiles.d`],
    };
  }
  return {
    units: ['/usr/lib/systemd/system', '/lib/systemd/system', '/usr/local/lib/systemd/system', '/run/systemd/system', '/etc/systemd/system'],
    tmpfiles: ['/usr/lib/tmpfiles.d', '/lib/tmpfiles.d', '/usr/local/lib/tmpfiles.d', '/run/tmpfiles.d', '/etc/tmpfiles.d'],
  };
}

/**
 * The files a container NAME would collide with: a unit, drop-in or tmpfiles conf in sysctr's
 * dirs that sysctr did not write, and a unit or tmpfiles conf of that name anywhere else systemd
 * looks (a vendor's `docker-registry.service`, `tmp.conf`), which sysctr's would shadow.
 */
export function foreignFiles(f: UnitFiles, name: string, o: { user: boolean; copies?: string[]; searchPaths?: { units: string[]; tmpfiles: string[] } }): string[] {
  const out: string[] = [];
  if (unitOwner(f) === 'foreign') out.push(f.unit);
  if (dropInOwner(f) === 'foreign') out.push(f.dropIn);
  if (tmpfilesOwner(f, o.copies) === 'foreign') out.push(f.tmpfiles);
  const search = o.searchPaths ?? searchPaths(o.user);
  const exists = (p: string) => {
    try {
      fs.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  // /lib is /usr/lib on a merged-/usr system: one file, named once
  const real = (p: string) => {
    try {
      return fs.realpathSync(path.dirname(p)) + '/' + path.basename(p);
    } catch {
      return path.resolve(p);
    }
  };
  const seen = new Set([f.unit, f.dropIn, f.tmpfiles].map(real));
  const add = (p: string) => {
    if (seen.has(real(p)) || !exists(p)) return;
    seen.add(real(p));
    out.push(p);
  };
  for (const d of search.units) add(path.join(d, `${name}.service`));
  for (const d of search.tmpfiles) add(path.join(d, `${name}.conf`));
  return out;
}

/** Refuses to go on when a unit of that name exists that sysctr did not write. */
export function assertUnitIsOurs(f: UnitFiles, name: string): void {
  if (unitOwner(f) === 'foreign') {
    throw new SysctrError(`${f.unit} already exists and was not written by sysctr`, {
      hint: `choose another name with --name, or remove that unit if ${name} is no longer needed`,
    });
  }
}

export interface HostFileContent {
  unit: string;
  dropIn: string;
  /** empty: no tmpfiles conf is written (and a stale one is removed) */
  tmpfiles: string;
}

/** Writes drop-in, tmpfiles conf, then the unit (last: once it is there, everything it needs is). */
export function writeUnitFiles(f: UnitFiles, c: HostFileContent): void {
  writeAtomic(f.dropIn, c.dropIn);
  if (c.tmpfiles.trim()) writeAtomic(f.tmpfiles, c.tmpfiles);
  else fs.rmSync(f.tmpfiles, { force: true });
  writeAtomic(f.unit, c.unit);
}

/** Removes the unit and its sysctr drop-in (and the drop-in dir when nothing else is in it). */
export function removeUnitFiles(f: UnitFiles): void {
  fs.rmSync(f.unit, { force: true });
  fs.rmSync(f.dropIn, { force: true });
  try {
    fs.rmdirSync(f.dropInDir);
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTEMPTY')) throw err;
  }
}
