/** Describes a directory tree (path, type, mode, owner, link target, content hash) for comparisons. */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export function describeTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.set(r, `dir ${meta}`);
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r, `symlink -> ${fs.readlinkSync(abs)} ${st.uid}:${st.gid}`);
      else if (st.isFile()) out.set(r, `file ${meta} ${crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex').slice(0, 16)}`);
      else out.set(r, `special ${meta}`);
    }
  };
  walk('');
  return out;
}

/** Lines that differ between two descriptions ("-" only in a, "+" only in b). */
export function diffTrees(a: Map<string, string>, b: Map<string, string>, ignore: (p: string, desc: string) => boolean = () => false): string[] {
  const out: string[] = [];
  for (const [p, d] of a) if (!ignore(p, d) && b.get(p) !== d) out.push(`- ${p}: ${d}`);
  for (const [p, d] of b) if (!ignore(p, d) && a.get(p) !== d) out.push(`+ ${p}: ${d}`);
  return out;
}
