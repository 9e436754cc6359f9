/**
 * Which scope of a policy applies to an image, most specific first, the way containers/image
 * orders them: for `docker`, the exact reference, then the repository and each parent namespace,
 * the registry host, then `*.domain` wildcards; for `oci` and `oci-archive`, the path with its
 * reference, the path, each parent directory; `docker-archive` has only its transport default.
 * Then the transport's "" scope, then the policy's `default`.
 */
import path from 'node:path';
import { parseReference, type ImageReference } from '../image/reference.js';
import type { Policy, Requirement } from './policy.js';

/** What the policy is asked about: the transport and the image as that transport names it. */
export interface TrustSubject {
  transport: 'docker' | 'oci' | 'oci-archive' | 'docker-archive';
  /** docker: the reference (tag defaulted to latest); local transports: undefined */
  reference?: ImageReference;
  /** oci / oci-archive: absolute path of the layout or archive */
  path?: string;
  /** oci / oci-archive: the reference inside it, if one was given */
  ref?: string;
}

/** Why a scope is invalid for its transport, or undefined when it is valid. */
export function validateScope(transport: string, scope: string): string | undefined {
  if (scope === '') return undefined;
  switch (transport) {
    case 'docker': {
      if (/^\*\.[a-z0-9.-]+$/i.test(scope)) return undefined;
      if (scope.includes('://')) return 'a docker scope has no scheme (write HOST[:PORT][/REPO][:TAG])';
      // a bare host (with a port, or "localhost", or dotted) or a reference; tags and digests allowed
      if (/^[a-zA-Z0-9.-]+(:[0-9]+)?$/.test(scope) && (scope.includes('.') || scope.includes(':') || scope === 'localhost')) return undefined;
      try {
        const r = parseReference(scope, '\0');
        if (r.registry === '\0') return `"${scope}" does not start with a registry host`;
      } catch (err) {
        return (err as Error).message;
      }
      return undefined;
    }
    case 'oci':
    case 'oci-archive': {
      const p = scope.split(':')[0];
      if (!path.isAbsolute(p)) return 'an oci scope is an absolute path, optionally :REF';
      if (path.normalize(p) !== p || (p.length > 1 && p.endsWith('/'))) return 'the path must be clean (no ., .., // or trailing /)';
      return undefined;
    }
    case 'docker-archive':
      return 'docker-archive supports only the transport default scope ""';
  }
  return undefined;
}

/** The scopes that could match, most specific first (without "" and without `default`). */
export function candidateScopes(s: TrustSubject): string[] {
  if (s.transport === 'docker' && s.reference) {
    const r = s.reference;
    const repo = `${r.registry}/${r.repository}`;
    const out: string[] = [];
    if (r.digest) out.push(`${repo}@${r.digest}`);
    else out.push(`${repo}:${r.tag ?? 'latest'}`);
    const parts = repo.split('/');
    for (let n = parts.length; n >= 1; n--) out.push(parts.slice(0, n).join('/'));
    const host = r.registry.replace(/:[0-9]+$/, '');
    const labels = host.split('.');
    for (let i = 1; i < labels.length; i++) if (!/^\d+$/.test(labels[i])) out.push(`*.${labels.slice(i).join('.')}`);
    return [...new Set(out)];
  }
  if ((s.transport === 'oci' || s.transport === 'oci-archive') && s.path) {
    const out = s.ref ? [`${s.path}:${s.ref}`] : [];
    for (let p = s.path; ; p = path.dirname(p)) {
      out.push(p);
      if (p === path.dirname(p)) break;
    }
    return out;
  }
  return [];
}

export interface ScopeMatch {
  /** for messages: `docker "127.0.0.1:5000/app"`, `docker ""` (the transport default), or `default` */
  label: string;
  requirements: Requirement[];
}

export function lookupScope(policy: Policy, s: TrustSubject): ScopeMatch {
  const scopes = policy.transports[s.transport];
  if (scopes) {
    for (const c of candidateScopes(s)) if (scopes[c]) return { label: `transports.${s.transport}[${JSON.stringify(c)}]`, requirements: scopes[c] };
    if (scopes['']) return { label: `transports.${s.transport}[""]`, requirements: scopes[''] };
  }
  return { label: 'default', requirements: policy.default };
}
