/**
 * Printing helpers shared by the commands: docker-style tables, JSON, -q, --no-trunc and -f filters.
 */
import { usageError } from '../lib/errors.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** truncated to this many characters unless --no-trunc */
  trunc?: number;
}

export function printTable<T>(rows: T[], cols: Column<T>[], opts: { noTrunc?: boolean } = {}): void {
  const cells = rows.map((r) =>
    cols.map((c) => {
      const v = c.value(r) ?? '';
      return !opts.noTrunc && c.trunc && v.length > c.trunc ? v.slice(0, c.trunc - 1) + '…' : v;
    }),
  );
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) =>
    vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]))).join('   ').trimEnd();
  const out = [line(cols.map((c) => c.header)), ...cells.map(line)];
  process.stdout.write(out.join('\n') + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Parses `-f key=value` filters (repeatable); all must match. */
export function parseFilters(raw: unknown, known: string[]): Array<[string, string]> {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((f) => {
    const s = String(f);
    const eq = s.indexOf('=');
    if (eq <= 0) throw usageError(`bad filter "${s}": use -f KEY=VALUE`, `known keys: ${known.join(', ')}`);
    const key = s.slice(0, eq);
    if (!known.includes(key)) throw usageError(`unknown filter key "${key}"`, `known keys: ${known.join(', ')}`);
    return [key, s.slice(eq + 1)];
  });
}

/** A filter value matches exactly, or as a glob with `*`. */
export function filterMatches(actual: string | undefined, wanted: string): boolean {
  if (actual === undefined) return false;
  if (!wanted.includes('*')) return actual === wanted;
  const re = new RegExp('^' + wanted.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(actual);
}

export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function shortId(digest: string, noTrunc?: boolean): string {
  const hex = digest.replace(/^sha256:/, '');
  return noTrunc ? digest : hex.slice(0, 12);
}

/** "3 minutes ago", like docker. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const units: Array<[number, string]> = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [n, name] of units) if (s >= n) return `${Math.floor(s / n)} ${name}${Math.floor(s / n) > 1 ? 's' : ''} ago`;
  return `${s} second${s === 1 ? '' : 's'} ago`;
}

/** --json on the commands that change state: one object on stdout, with `changed` (docs/json-output.md) */
export const jsonChangeOption = { type: 'boolean', describe: 'print one JSON object with changed: true|false (other output goes to stderr)' } as const;

/** Where a command's progress lines go: stdout, or stderr under --json (stdout holds only the object). */
export function lineWriter(json: boolean | undefined): (l: string) => void {
  return json ? (l) => process.stderr.write(l + '\n') : (l) => process.stdout.write(l + '\n');
}

export function printChange(value: { changed: boolean; dryRun?: boolean } & Record<string, unknown>): void {
  const { changed, dryRun, ...rest } = value;
  printJson({ changed, ...(dryRun ? { dryRun: true } : {}), ...rest });
}
