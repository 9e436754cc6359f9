/**
 * The files `sysctr apply` reads (docs/apply.md): each *.json, *.yaml or *.yml in a directory
 * declares one container (schemas/containers-d.schema.json). Every problem in every file is found
 * before anything is applied, each with FILE:LINE:COL, so that a configuration manager's run either
 * applies the whole directory or nothing of it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isErrno, SysctrError } from '../errors.js';
import { positionAt } from '../template/engine.js';
import { JsonSyntaxError, locatePointer, parseJsonWithLocations } from '../template/json-locate.js';
import { pointerToPath, validateAgainst } from '../template/schemas.js';
import { validateName } from './names.js';

export type AutoUpdatePolicy = 'registry' | 'local' | 'disabled';

/** One declared container, as its file says it (defaults not filled in). */
export interface Declared {
  /** the file it came from */
  file: string;
  name: string;
  image: string;
  values?: Record<string, string>;
  autoUpdate?: AutoUpdatePolicy;
  now?: boolean;
  enabled?: boolean;
  force?: boolean;
  runtime?: string;
  volumes?: { noSnapshot?: string[]; purgeOnRemove?: boolean };
}

export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export const DECLARATION_EXTENSIONS = ['.json', '.yaml', '.yml'];

/** Where a pointer is in a file (1-based), and the parsed value. */
interface Located {
  value: unknown;
  at: (pointer: string, prefer: 'key' | 'value') => { line: number; col: number };
}

function parseJson(file: string, text: string, problems: Problem[]): Located | undefined {
  try {
    const doc = parseJsonWithLocations(text);
    const at = (pointer: string, prefer: 'key' | 'value') => positionAt(text, locatePointer(doc, pointer, prefer));
    for (const d of doc.duplicateKeys) problems.push({ file, ...at(d, 'key'), message: `${pointerToPath(d)} is given twice` });
    return { value: doc.value, at };
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    problems.push({ file, ...positionAt(text, err.offset), message: `not valid JSON: ${err.message}` });
    return undefined;
  }
}

async function parseYaml(file: string, text: string, problems: Problem[]): Promise<Located | undefined> {
  const { LineCounter, parseDocument, isMap, isPair, isScalar } = await import('yaml');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) problems.push({ file, ...lc.linePos(e.pos[0]), message: `not valid YAML: ${e.message}` });
    return undefined;
  }
  const at = (pointer: string, prefer: 'key' | 'value') => {
    // walk the node tree along the pointer; the deepest node found is the best position there is
    let node: unknown = doc.contents;
    let offset = 0;
    const tokens = pointer === '' ? [] : pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    for (const [i, tok] of tokens.entries()) {
      const items = (node as { items?: unknown[] } | null)?.items;
      if (!items) break;
      const item = isMap(node) ? items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === tok) : items[Number(tok)];
      if (item === undefined) break;
      if (isPair(item)) {
        const keyRange = (item.key as { range?: number[] } | null)?.range;
        const valueRange = (item.value as { range?: number[] } | null)?.range;
        offset = (i === tokens.length - 1 && prefer === 'key') || !valueRange ? keyRange?.[0] ?? offset : valueRange[0];
        node = item.value;
      } else {
        offset = (item as { range?: number[] }).range?.[0] ?? offset;
        node = item;
      }
    }
    if (tokens.length === 0) offset = (doc.contents as { range?: number[] } | null)?.range?.[0] ?? 0;
    return lc.linePos(offset);
  };
  return { value: doc.toJS(), at };
}

/** Parses and checks one file's text; the declaration, or the problems found. */
export async function parseDeclaration(file: string, text: string): Promise<{ declared?: Declared; problems: Problem[]; nameAt?: { line: number; col: number } }> {
  const problems: Problem[] = [];
  const doc = file.endsWith('.json') ? parseJson(file, text, problems) : await parseYaml(file, text, problems);
  if (!doc) return { problems };
  for (const v of validateAgainst('containers-d', doc.value)) {
    problems.push({ file, ...doc.at(v.pointer, v.member ? 'key' : 'value'), message: `${pointerToPath(v.pointer)} ${v.message}` });
  }
  if (problems.length) return { problems };
  const declared = { ...(doc.value as Omit<Declared, 'file'>), file };
  try {
    validateName(declared.name);
  } catch (err) {
    if (!(err instanceof SysctrError)) throw err;
    return { problems: [{ file, ...doc.at('/name', 'value'), message: err.message }] };
  }
  return { declared, problems, nameAt: doc.at('/name', 'value') };
}

/** The declaration files of DIR (sorted), or FILE itself. */
export function declarationFiles(target: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new SysctrError(`${target}: no such file or directory`, { hint: 'write one file per container there (docs/apply.md), or name another: sysctr apply DIR|FILE' });
    }
    throw err;
  }
  if (!st.isDirectory()) return [target];
  // editors' backups and hidden files are not declarations
  return fs.readdirSync(target).filter((n) => !n.startsWith('.') && DECLARATION_EXTENSIONS.some((e) => n.endsWith(e))).sort().map((n) => path.join(target, n));
}

/**
 * Reads every declaration in DIR (or FILE). Any problem in any file, two files declaring one name
 * included, is an error listing them all: nothing is applied from a directory that has one.
 */
export async function readDeclarations(target: string): Promise<Declared[]> {
  const files = declarationFiles(target);
  if (files.length === 1 && files[0] === target && !DECLARATION_EXTENSIONS.some((e) => target.endsWith(e))) {
    throw new SysctrError(`${target}: not a .json, .yaml or .yml file`, { code: 2, hint: 'name a declaration file or a directory of them' });
  }
  const problems: Problem[] = [];
  const byName = new Map<string, Declared>();
  const out: Declared[] = [];
  for (const file of files) {
    const r = await parseDeclaration(file, fs.readFileSync(file, 'utf8'));
    problems.push(...r.problems);
    if (!r.declared) continue;
    const first = byName.get(r.declared.name);
    if (first) {
      problems.push({ file, ...r.nameAt!, message: `container ${JSON.stringify(r.declared.name)} is declared in ${first.file} already` });
      continue;
    }
    byName.set(r.declared.name, r.declared);
    out.push(r.declared);
  }
  if (problems.length) {
    const lines = problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`);
    throw new SysctrError(`${problems.length === 1 ? 'a declaration is' : `${problems.length} problems in the declarations are`} not valid, nothing was applied:\n  ${lines.join('\n  ')}`, {
      hint: 'fix the files (format: docs/apply.md) and run sysctr apply again',
    });
  }
  return out;
}

/** The directory apply reads when it is given none. */
export function defaultDeclarationDir(user: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (!user) return '/etc/sysctr/containers.d';
  return path.join(env.XDG_CONFIG_HOME ?? path.join(env.HOME ?? '/', '.config'), 'sysctr/containers.d');
}
