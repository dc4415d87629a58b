// An HTTP proxy in front of the S3 test server that can hold chosen requests: the way to
// catch dbops in one exact phase of a write (a data object's upload, a manifest's PUT)
// and kill it there. A held request is later let through as it was, or dropped as if it
// never arrived (its client was killed meanwhile).
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3TestServer } from './s3-server.js';

export interface HeldRequest {
  method: string;
  /** Object key in the bucket (with the repository prefix). */
  key: string;
}

export interface StallProxy {
  readonly endpoint: string;
  /** Storage URL through the proxy: s3://bucket/prefix?endpoint=…&region=us-east-1 */
  url(prefix: string): string;
  /** Hold every request matching `match` from now on; resolves with the first one held. */
  hold(match: (r: HeldRequest) => boolean): Promise<HeldRequest>;
  /** Let the held requests through (and stop holding). */
  release(): void;
  /** Drop the held requests unanswered, as if they never reached the store (and stop holding). */
  drop(): void;
  close(): Promise<void>;
}

export async function startStallProxy(upstream: S3TestServer): Promise<StallProxy> {
  const target = new URL(upstream.endpoint);
  let match: ((r: HeldRequest) => boolean) | undefined;
  let firstHeld: ((r: HeldRequest) => void) | undefined;
  let held: Array<{ req: IncomingMessage; res: ServerResponse }> = [];

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const key = path.replace(/^\/[^/]+\//, '');
    const r: HeldRequest = { method: req.method ?? 'GET', key };
    if (match?.(r)) {
      held.push({ req, res });
      firstHeld?.(r);
      firstHeld = undefined;
      return;
    }
    forward(req, res);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const stop = (): Array<{ req: IncomingMessage; res: ServerResponse }> => {
    match = undefined;
    firstHeld = undefined;
    const out = held;
    held = [];
    return out;
  };

  return {
    endpoint,
    url: (prefix) => `s3://${upstream.bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`,
    hold: (m) => {
      match = m;
      return new Promise((resolve) => {
        firstHeld = resolve;
      });
    },
    release: () => {
      for (const h of stop()) forward(h.req, h.res);
    },
    drop: () => {
      for (const h of stop()) h.req.socket.destroy();
    },
    close: async () => {
      for (const h of stop()) h.req.socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
