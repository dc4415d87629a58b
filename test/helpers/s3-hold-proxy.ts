// A pass-through HTTP proxy in front of the S3 test server that can stop one request in
// flight, so a test can kill a process at an exact point of its storage traffic (after
// one object went, before the next): `hold(match)` resolves with the next matching
// request, which waits until the test forwards it (`release`) or cuts it (`drop`, as a
// dying client or network would). Bodies are small in tests: each is read whole, then
// forwarded with its length (as object-lock-proxy.ts does).
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3TestServer } from './s3-server.js';

export interface SeenRequest {
  method: string;
  /** Object key in the bucket (with the repository prefix); null for bucket requests. */
  key: string | null;
}

export interface HeldRequest extends SeenRequest {
  /** Forward it and relay the answer. */
  release(): void;
  /** Close the client's connection without an answer. */
  drop(): void;
}

export interface HoldProxy {
  readonly endpoint: string;
  /** Storage URL through the proxy: s3://bucket/prefix?endpoint=…&region=us-east-1 */
  url(prefix?: string): string;
  readonly requests: SeenRequest[];
  /** The next request that matches is held (one hold at a time). */
  hold(match: (r: SeenRequest) => boolean): Promise<HeldRequest>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startHoldProxy(upstream: S3TestServer): Promise<HoldProxy> {
  const up = new URL(upstream.endpoint);
  const requests: SeenRequest[] = [];
  let pending: { match: (r: SeenRequest) => boolean; resolve: (h: HeldRequest) => void } | undefined;

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse): void => {
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== 'expect' && k !== 'transfer-encoding' && k !== 'content-length') headers[k] = v;
    if (body.length || req.method === 'PUT' || req.method === 'POST') headers['content-length'] = String(body.length);
    const out = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (answer) => {
      const back: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection') back[k] = v;
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
    });
    out.on('error', () => res.socket?.destroy());
    out.end(body);
  };

  const server = createServer((req, res) => {
    void readBody(req).then(
      (body) => {
        const parts = new URL(req.url ?? '/', 'http://proxy').pathname.split('/').slice(1);
        const key = parts.length > 1 && parts.slice(1).join('/') !== '' ? parts.slice(1).map(decodeURIComponent).join('/') : null;
        const seen: SeenRequest = { method: req.method ?? 'GET', key };
        requests.push(seen);
        if (pending?.match(seen)) {
          const { resolve } = pending;
          pending = undefined;
          resolve({ ...seen, release: () => forward(req, body, res), drop: () => req.socket.destroy() });
          return;
        }
        forward(req, body, res);
      },
      () => req.socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests,
    url: (prefix = '') => `s3://${upstream.bucket}/${prefix.replace(/^\/+/, '')}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`,
    hold: (match) =>
      new Promise<HeldRequest>((resolve) => {
        pending = { match, resolve };
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
