/**
 * A fleet for end-to-end tests: several throw-away systemd hosts (test/helpers/nspawn.ts, each from
 * a cgroup of its own) that share the host's network, so that all of them reach one upstream
 * registry and one pull-through mirror in front of it, both on the host's loopback with their
 * access logs on (what the upstream served is counted there). Every host gets the same
 * registries.conf: the mirror first, then the upstream.
 */
import { Machine } from './nspawn.js';
import { startRegistry, type Registry } from './registry.js';

export interface Fleet {
  hosts: Machine[];
  upstream: Registry;
  mirror: Registry;
  /** the registries.conf every host has in /etc/containers */
  registriesConf: string;
  stop(): Promise<void>;
}

/** registries.conf(5): pulls of the upstream's names go to the mirror first. */
export function mirrorConf(upstream: string, mirror: string): string {
  return [
    '[[registry]]',
    `prefix = "${upstream}"`,
    `location = "${upstream}"`,
    'insecure = true',
    '[[registry.mirror]]',
    `location = "${mirror}"`,
    'insecure = true',
    '',
  ].join('\n');
}

/** Starts the registries and boots `size` hosts at once; everything started is stopped on failure. */
export async function startFleet(size: number): Promise<Fleet> {
  const upstream = await startRegistry({ accessLog: true });
  const started: { hosts: Machine[]; mirror?: Registry } = { hosts: [] };
  const stop = async () => {
    await Promise.all(started.hosts.map((h) => h.shutdown()));
    await started.mirror?.stop();
    await upstream.stop();
  };
  try {
    started.mirror = await startRegistry({ accessLog: true, proxyRemoteUrl: `http://${upstream.host}` });
    const boots = await Promise.allSettled(Array.from({ length: size }, () => Machine.boot({ hostNetwork: true })));
    for (const b of boots) if (b.status === 'fulfilled') started.hosts.push(b.value);
    const failed = boots.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed) throw failed.reason;
    const registriesConf = mirrorConf(upstream.host, started.mirror.host);
    for (const h of started.hosts) {
      const r = await h.exec(['sh', '-c', 'mkdir -p /etc/containers && cat > /etc/containers/registries.conf'], { input: registriesConf });
      if (r.exitCode !== 0) throw new Error(`writing registries.conf in ${h.name}: ${r.stderr}`);
    }
    return { hosts: started.hosts, upstream, mirror: started.mirror, registriesConf, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * GET requests per blob digest in a registry's access log (Apache combined lines,
 * `"GET /v2/NAME/blobs/sha256:HEX HTTP/1.1" STATUS`), HEAD requests not counted.
 */
export function blobGets(accessLog: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of accessLog.matchAll(/"GET \/v2\/\S+\/blobs\/(sha256:[0-9a-f]{64}) HTTP\/[\d.]+"/g)) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  return counts;
}

/** GET and HEAD requests for manifests in an access log: [method, reference]. */
export function manifestRequests(accessLog: string): [string, string][] {
  return [...accessLog.matchAll(/"(GET|HEAD) \/v2\/\S+\/manifests\/(\S+) HTTP\/[\d.]+"/g)].map((m) => [m[1], m[2]]);
}
