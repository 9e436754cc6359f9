/**
 * Unpacking an image archive (oci-archive, docker save) into a fresh directory with the layer tar
 * reader (lib/layer/tar-reader.ts), so one reader parses every tar sysctr is given. Only what an
 * image archive holds is made: directories and regular files. No symlink is ever created: a
 * symlink or hardlink in the archive (docker save links a repeated layer to its first copy) is
 * resolved inside the archive and made a hardlink to the file it names, so nothing written or
 * read later can leave the directory.
 */
import fs from 'node:fs';
import { uncompressedStream } from '../layer/decompress.js';
import { normalizeEntryPath, resolveThroughLinks, UnsafePathError } from '../layer/safepath.js';
import { TarReader } from '../layer/tar-reader.js';

/** Unpacks `file` (a tar, maybe gzip or zstd compressed) into the existing empty `dir`. */
export async function unpackTarFile(file: string, dir: string): Promise<void> {
  const symlinks = new Map<string, string>();
  const hardlinks: Array<[string, string]> = [];
  const files = new Set<string>();
  const madeDirs = new Set<string>(['']);
  const mkdirs = (p: string) => {
    if (madeDirs.has(p)) return;
    fs.mkdirSync(`${dir}/${p}`, { recursive: true, mode: 0o755 });
    madeDirs.add(p);
  };
  const parentOf = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf('/')));
  /** entries below a link would be written through it once it exists: none is needed */
  const refuseBelowLink = (p: string, name: string) => {
    for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
      const up = p.slice(0, i);
      if (symlinks.has(up) || files.has(up)) throw new UnsafePathError(`entry "${name}" lies below "${up}", which is not a directory`);
    }
  };

  const reader = new TarReader((h) => {
    const p = normalizeEntryPath(h.name);
    if (!p) return undefined; // the archive's root: the directory itself
    refuseBelowLink(p, h.name);
    switch (h.type) {
      case 'dir':
        mkdirs(p);
        return undefined;
      case 'file': {
        mkdirs(parentOf(p));
        files.add(p);
        symlinks.delete(p);
        const fd = fs.openSync(`${dir}/${p}`, 'w', 0o644);
        return {
          data: (b) => {
            for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off);
          },
          end: () => fs.closeSync(fd),
        };
      }
      case 'symlink':
        symlinks.set(p, h.linkname);
        return undefined;
      case 'hardlink':
        hardlinks.push([p, normalizeEntryPath(h.linkname, `hardlink target of "${h.name}"`)]);
        return undefined;
      default:
        return undefined; // devices and fifos have no place in an image archive
    }
  });
  const { stream } = uncompressedStream(fs.createReadStream(file, { highWaterMark: 1 << 20 }));
  for await (const chunk of stream) {
    reader.write(chunk);
    while (reader.pump());
  }
  reader.end();

  const linkAt = (parts: string[]) => symlinks.get(parts.join('/'));
  const link = (p: string, targetParts: string[]) => {
    const target = targetParts.join('/');
    // a link to a directory or to nothing: no image file is read through it
    if (!files.has(target) || target === p) return;
    mkdirs(parentOf(p));
    fs.rmSync(`${dir}/${p}`, { force: true });
    fs.linkSync(`${dir}/${target}`, `${dir}/${p}`);
  };
  const resolve = (p: string, target: string, kind: string, followLast: boolean) => {
    try {
      return resolveThroughLinks(followLast ? p : target, followLast, kind, linkAt);
    } catch (err) {
      if (err instanceof UnsafePathError) throw new UnsafePathError(`${kind} "${p}" -> "${target}" leads outside the archive`);
      throw err;
    }
  };
  for (const [p, target] of hardlinks) link(p, resolve(p, target, 'hardlink', false));
  for (const [p, target] of symlinks) link(p, resolve(p, target, 'symlink', true));
}
