/**
 * The config.json generated for an image without config.json.template / config.json, from
 * templates/default-config.json.mustache: what `runc spec` writes, adjusted for a service (terminal
 * false, read-only root at `rootfs`, the host's network), with the image's Entrypoint+Cmd (or
 * /usr/bin/run.sh), Env, WorkingDir and numeric User filled in here.
 */
import type { ImageConfig } from '../image/types.js';
import { renderShipped } from '../template/mustache.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** "1000", "1000:1000": numeric users only (a name needs the image's /etc/passwd; root then). */
function imageUser(user: string | undefined): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  if (!m) return { uid: 0, gid: 0 };
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}

export interface DefaultConfigInput {
  name: string;
  image?: ImageConfig;
}

/** A JSON array's items for the template, each knowing whether a comma follows it. */
const items = (values: string[]) => values.map((value, i) => ({ value, last: i === values.length - 1 }));

/** The text written to config.json: two-space JSON and a final newline. */
export function defaultConfigText(o: DefaultConfigInput): string {
  const c = o.image?.config ?? {};
  const entry = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  const env = [...(c.Env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  // never empty (the template writes each item on a line of its own)
  const args = entry.length ? entry : ['/usr/bin/run.sh'];
  return renderShipped('default-config.json.mustache', {
    ...imageUser(c.User),
    args: items(args),
    env: items(env),
    cwd: c.WorkingDir || '/',
    hostname: o.name,
  });
}
