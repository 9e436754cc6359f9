/** A listing of everything in a store (path, type, size, inode), to prove a failed command changed nothing. */
import fs from 'node:fs';
import path from 'node:path';

export function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    let names: string[];
    try {
      names = fs.readdirSync(abs);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (r === 'store/tmp' || r === 'store/lock') continue;
      const st = fs.lstatSync(path.join(root, r));
      out.push(`${r} ${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${st.isDirectory() ? '' : st.size} ${st.ino}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}
