/**
 * JSON Schema validation (ajv) of config.json and manifest.json against the project's schemas in
 * `schemas/`. Violations come back as JSON pointers; callers map them to template lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import * as precompiled from './schema-validators.generated.js';
import { newAjv, schemaHash } from './schemas-codegen.js';

export type SchemaName = 'runtime-config' | 'manifest';

export interface SchemaViolation {
  /** JSON pointer of the offending value ('' is the root) */
  pointer: string;
  message: string;
  /** an unknown or missing member name, when the violation is about one */
  member?: string;
}

/** schemas/ lives at the project root: two levels above lib/template/ (and dist/lib/template/ has one more). */
function schemasDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    const candidate = path.join(dir, 'schemas');
    if (fs.existsSync(path.join(candidate, 'manifest.schema.json'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('sysctr installation is incomplete: schemas/ not found next to lib/');
}

let ajv: ReturnType<typeof newAjv> | undefined;
const compiled = new Map<SchemaName, ValidateFunction>();

/**
 * The validator for a schema: the one compiled ahead of time when it was generated from this very
 * schema file (same sha256), else compiled now with ajv (a schema edited, the file not regenerated).
 */
function validator(name: SchemaName): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const text = fs.readFileSync(path.join(schemasDir(), `${name}.schema.json`));
    const pre = (precompiled as Record<string, unknown>)[name === 'runtime-config' ? 'runtimeConfig' : 'manifest'] as ValidateFunction | undefined;
    if (pre && (precompiled.SCHEMA_HASHES as Record<string, string>)[name] === schemaHash(text)) v = pre;
    else {
      ajv ??= newAjv();
      v = ajv.compile(JSON.parse(text.toString('utf8')));
    }
    compiled.set(name, v);
  }
  return v;
}

/** For tests: whether the ahead-of-time validator is used for this schema. */
export function usesPrecompiled(name: SchemaName): boolean {
  validator(name);
  return compiled.get(name) === (precompiled as Record<string, unknown>)[name === 'runtime-config' ? 'runtimeConfig' : 'manifest'];
}

function describe(e: ErrorObject): SchemaViolation {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { pointer: e.instancePath, member: String(p.missingProperty), message: `missing required member "${String(p.missingProperty)}"` };
    case 'type':
      return { pointer: e.instancePath, message: `must be ${String(p.type).replace(',', ' or ')}` };
    case 'enum':
      return { pointer: e.instancePath, message: `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}` };
    case 'pattern':
      return { pointer: e.instancePath, message: `must match ${String(p.pattern)}` };
    case 'propertyNames':
      return { pointer: e.instancePath, message: `has a member name that is not a variable name ([_A-Za-z][_A-Za-z0-9]*)` };
    default:
      return { pointer: e.instancePath, message: e.message ?? e.keyword };
  }
}

/** Validates a parsed value; returns every violation (empty when valid). */
export function validateAgainst(name: SchemaName, value: unknown): SchemaViolation[] {
  const v = validator(name);
  if (v(value)) return [];
  const seen = new Set<string>();
  const out: SchemaViolation[] = [];
  for (const e of v.errors ?? []) {
    // propertyNames also reports a `pattern` error about the name itself; keep the clearer one
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') continue;
    const d = describe(e);
    const key = `${d.pointer} ${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

/** "/process/terminal" as a readable path: process.terminal, mounts[3].type */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '(the document)';
  return pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, t) => (/^\d+$/.test(t) ? `${acc}[${t}]` : acc ? `${acc}.${t}` : t), '');
}
