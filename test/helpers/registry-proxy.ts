/**
 * A loopback reverse proxy in front of a test registry (test/helpers/registry.ts): it counts the
 * requests (dedup and "up to date" are proved by them), injects faults into blob responses (cut,
 * corrupted, 5xx) and can redirect blob GETs to a second origin, as registries with blob storage do.
 */
import http from 'node:http';
import net from 'node:net';

export interface ProxyRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export interface ProxyOptions {
  /** the registry's port on 127.0.0.1 */
  target: number;
  /**
   * For the Nth (1-based) blob GET: cut the body after `cutAfter` bytes, flip the byte at
   * `corruptAt`, or answer `status` (e.g. 503) without asking the registry.
   */
  blobFault?: (n: number, req: ProxyRequest) => { cutAfter?: number; corruptAt?: number; status?: number } | undefined;
  /**
   * Answer blob GETs with 307 to a second loopback server (another origin, as blob storage is),
   * which fetches the blob from the registry with `storageAuth` and records what it was sent.
   */
  redirectBlobs?: { storageAuth?: string };
}

export interface Proxy {
  port: number;
  host: string;
  requests: ProxyRequest[];
  /** requests the redirect target (blob storage) received */
  storageRequests: ProxyRequest[];
  /** body bytes of blob responses passed on */
  blobBytes: number;
  stop(): Promise<void>;
}

const isBlobGet = (req: http.IncomingMessage) => req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');

function record(req: http.IncomingMessage): ProxyRequest {
  return { method: req.method ?? '', url: req.url ?? '', range: req.headers.range, authorization: req.headers.authorization };
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

const closeServer = (s: http.Server) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });

/** A loopback reverse proxy in front of a registry, counting requests and injecting faults. */
export async function startProxy(o: ProxyOptions): Promise<Proxy> {
  const requests: ProxyRequest[] = [];
  const storageRequests: ProxyRequest[] = [];
  let blobGets = 0;
  const state = { blobBytes: 0 };
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, headers: http.OutgoingHttpHeaders, fault?: { cutAfter?: number; corruptAt?: number }) => {
    const up = http.request({ host: '127.0.0.1', port: o.target, method: req.method, path: req.url, headers: { ...headers, host: `127.0.0.1:${o.target}` } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      let sent = 0;
      upRes.on('data', (chunk: Buffer) => {
        if (fault?.corruptAt !== undefined && fault.corruptAt >= sent && fault.corruptAt < sent + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[fault.corruptAt - sent] ^= 0xff;
        }
        if (fault?.cutAfter !== undefined && sent + chunk.length >= fault.cutAfter) {
          const part = chunk.subarray(0, fault.cutAfter - sent);
          if (isBlobGet(req)) state.blobBytes += part.length;
          res.write(part, () => res.socket?.destroy());
          upRes.destroy();
          return;
        }
        sent += chunk.length;
        if (isBlobGet(req)) state.blobBytes += chunk.length;
        res.write(chunk);
      });
      upRes.on('end', () => res.end());
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  };

  let storage: http.Server | undefined;
  let storagePort = 0;
  if (o.redirectBlobs) {
    storage = http.createServer((req, res) => {
      storageRequests.push(record(req));
      const headers: http.OutgoingHttpHeaders = {};
      if (o.redirectBlobs!.storageAuth) headers.authorization = o.redirectBlobs!.storageAuth;
      if (req.headers.range) headers.range = req.headers.range;
      forward(req, res, headers);
    });
    storagePort = await listen(storage);
  }

  const server = http.createServer((req, res) => {
    const r = record(req);
    requests.push(r);
    if (isBlobGet(req) && storage) {
      res.writeHead(307, { location: `http://127.0.0.1:${storagePort}${req.url}` });
      res.end();
      return;
    }
    const fault = isBlobGet(req) ? o.blobFault?.(++blobGets, r) : undefined;
    if (fault?.status) {
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected by the test proxy' }] }));
      return;
    }
    forward(req, res, req.headers, fault);
  });
  const port = await listen(server);
  return {
    port,
    host: `127.0.0.1:${port}`,
    requests,
    storageRequests,
    get blobBytes() {
      return state.blobBytes;
    },
    stop: async () => {
      await closeServer(server);
      if (storage) await closeServer(storage);
    },
  };
}
