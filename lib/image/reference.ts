/**
 * Docker image references: parse, normalise, print. Rules as in distribution/reference:
 * the first component is a registry host when it contains "." or ":" or is "localhost";
 * otherwise the default registry (docker.io) applies, with "library/" for one-component names.
 */
import { usageError } from '../errors.js';

export const DEFAULT_REGISTRY = 'docker.io';

export interface ImageReference {
  registry: string;
  /** path inside the registry, e.g. library/etcd */
  repository: string;
  tag?: string;
  /** sha256:... */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

export function parseReference(input: string, defaultRegistry = DEFAULT_REGISTRY): ImageReference {
  const bad = (why: string) =>
    usageError(`invalid image reference "${input}": ${why}`, 'write [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. quay.io/coreos/etcd:v3.5.0');
  if (!input) throw bad('empty');
  if (/\s/.test(input)) throw bad('contains white space');
  if (input.includes('://')) throw bad('a transport or URL scheme is not part of a reference (docker:// is handled before)');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`bad digest "${digest}"`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw bad('a sha256 digest has 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`bad tag "${tag}"`);
  }
  if (!rest) throw bad('no repository name');
  const parts = rest.split('/');
  let registry = defaultRegistry;
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw bad(`bad registry host "${registry}"`);
  }
  for (const p of parts) {
    if (p === '') throw bad('empty path component (a "//" or a trailing "/")');
    if (!COMPONENT.test(p)) {
      throw bad(
        p !== p.toLowerCase() ? `"${p}" has upper-case letters; repository names are lower case` : `bad path component "${p}"`,
      );
    }
  }
  let repository = parts.join('/');
  if (registry === 'index.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && parts.length === 1) repository = `library/${repository}`;
  if (registry.length + 1 + repository.length > 255) throw bad('name longer than 255 characters');
  return { registry, repository, tag, digest };
}

/** registry/repository[:tag][@digest]; a reference without tag or digest gets ":latest". */
export function formatReference(ref: ImageReference, opts: { defaultTag?: boolean } = {}): string {
  let s = `${ref.registry}/${ref.repository}`;
  const tag = ref.tag ?? (ref.digest || opts.defaultTag === false ? undefined : 'latest');
  if (tag) s += `:${tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** The canonical name a store records: `docker.io/library/etcd:3.5`. */
export function normalizeName(input: string): string {
  return formatReference(parseReference(input));
}

/** Short display form: docker.io/library/ and docker.io/ dropped, like docker does. */
export function familiarName(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

/**
 * Atomic's `http:` prefix (`http:localhost:5000/etcd`, also `http://...`): the registry is spoken
 * to over plain HTTP. Returns the reference without it. `http:5000/x` (a host named "http" with a
 * port) is a reference, not the prefix.
 */
export function stripHttpPrefix(input: string): { reference: string; insecureHttp: boolean } {
  const m = /^http:(?:\/\/)?(.*)$/.exec(input);
  if (!m || /^\d+\//.test(m[1])) return { reference: input, insecureHttp: false };
  return { reference: m[1], insecureHttp: true };
}
