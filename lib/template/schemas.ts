/**
 * JSON Schema validation (ajv) of config.json and manifest.json against the project's schemas in
 * `schemas/`. Violations come back as JSON pointers; callers map them to template lines.
 */
import type { ErrorObject } from 'ajv';
// written by scripts/gen-validators.mjs during `npm run build` (git-ignored): ajv's compiler never runs here
import { containersD, manifest, runtimeConfig } from './schema-validators.generated.js';

export type SchemaName = 'runtime-config' | 'manifest' | 'containers-d';

export interface SchemaViolation {
  /** JSON pointer of the offending value ('' is the root) */
  pointer: string;
  message: string;
  /** an unknown or missing member name, when the violation is about one */
  member?: string;
}

/** what ajv's standalone code exports for each schema */
type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

const VALIDATORS: Record<SchemaName, Validator> = { 'runtime-config': runtimeConfig as Validator, manifest: manifest as Validator, 'containers-d': containersD as Validator };

function describe(e: ErrorObject): SchemaViolation {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { pointer: e.instancePath, member: String(p.missingProperty), message: `missing required member "${String(p.missingProperty)}"` };
    case 'type':
      return { pointer: e.instancePath, message: `must be ${String(p.type).replace(',', ' or ')}` };
    case 'minItems':
    case 'minLength':
      if (e.instancePath.startsWith('/healthcheck/cmd')) return { pointer: e.instancePath, message: 'is empty: give the program and its arguments, e.g. ["/bin/check", "--quiet"]' };
      return { pointer: e.instancePath, message: e.message ?? e.keyword };
    case 'enum':
      return { pointer: e.instancePath, message: `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}` };
    case 'pattern':
      if (e.schemaPath.includes('/duration/')) return { pointer: e.instancePath, message: 'is not a duration: write seconds (30) or a number with a unit (500ms, 5s, 1m30s, 1h)' };
      if (e.instancePath.endsWith('/healthcheck/cmd')) return { pointer: e.instancePath, message: 'is empty: give the command to run in the container' };
      return { pointer: e.instancePath, message: `must match ${String(p.pattern)}` };
    case 'additionalProperties': {
      // pointed at the member itself, so that a caller can show the line it is on
      const member = String(p.additionalProperty);
      return { pointer: `${e.instancePath}/${member.replace(/~/g, '~0').replace(/\//g, '~1')}`, member, message: `is not a known member` };
    }
    case 'propertyNames':
      return { pointer: e.instancePath, message: `has a member name that is not a variable name ([_A-Za-z][_A-Za-z0-9]*)` };
    default:
      return { pointer: e.instancePath, message: e.message ?? e.keyword };
  }
}

/** Validates a parsed value; returns every violation (empty when valid). */
export function validateAgainst(name: SchemaName, value: unknown): SchemaViolation[] {
  const v = VALIDATORS[name];
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
