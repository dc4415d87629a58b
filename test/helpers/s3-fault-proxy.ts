// Faults of an S3 endpoint on demand, as an HTTP proxy in front of s3rver: down (the port
// refuses connections, open ones are cut), error answers (500 InternalError, 503 SlowDown)
// for the next N requests that match, and slow answers. s3rver can only be killed and
// restarted, which loses the timing: the proxy switches at once and counts what it saw.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { S3TestServer } from './s3-server.js';

export interface FaultRule {
  /** Which requests fail, e.g. (r) => r.method === 'PUT'; default all. */
  match?: (req: IncomingMessage) => boolean;
  status: 500 | 503;
  /** How many matching requests fail before the proxy passes them again. */
  times: number;
}

export interface S3FaultProxy {
  readonly endpoint: string;
  /** Storage URL through the proxy. */
  url(prefix?: string): string;
  /** Requests forwarded to s3rver, and requests answered with an injected error. */
  readonly counts: { forwarded: number; failed: number };
  /** Stop listening and cut open connections: clients see ECONNREFUSED / ECONNRESET. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  fail(rule: FaultRule): void;
  /** Requests that match wait (unanswered) until the returned release() is called. */
  hold(match: (req: IncomingMessage) => boolean): { release(): void; held(): number };
  /** Hold every answer this long before sending it (0: off). */
  delayMs: number;
  close(): Promise<void>;
}

const CODES = { 500: 'InternalError', 503: 'SlowDown' } as const;

export async function startS3FaultProxy(upstream: S3TestServer): Promise<S3FaultProxy> {
  const up = new URL(upstream.endpoint);
  const sockets = new Set<Socket>();
  const rules: FaultRule[] = [];
  const counts = { forwarded: 0, failed: 0 };
  const state = { delayMs: 0, listening: false };

  const holds: Array<{ match: (req: IncomingMessage) => boolean; gate: Promise<void>; count: number }> = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const hold = holds.find((h) => h.match(req));
    if (hold) {
      hold.count += 1;
      req.pause();
      void hold.gate.then(() => handle2(req, res));
      return;
    }
    handle2(req, res);
  };

  const handle2 = (req: IncomingMessage, res: ServerResponse): void => {
    const rule = rules.find((r) => r.times > 0 && (r.match?.(req) ?? true));
    if (rule) {
      rule.times -= 1;
      counts.failed += 1;
      req.resume();
      req.on('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${CODES[rule.status]}</Code><Message>injected by the test proxy</Message></Error>`;
        res.writeHead(rule.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
      });
      return;
    }
    counts.forwarded += 1;
    const headers = { ...req.headers };
    const out = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (answer) => {
      const send = (): void => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      };
      if (state.delayMs > 0) setTimeout(send, state.delayMs);
      else send();
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  };

  const server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  let port = 0;
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as { port: number }).port;
        state.listening = true;
        resolve();
      });
    });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (!state.listening) return resolve();
      state.listening = false;
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });

  await listen();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    url: (prefix = '') => `s3://${upstream.bucket}/${prefix.replace(/^\/+/, '')}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`,
    counts,
    down: stop,
    up: listen,
    fail: (rule) => rules.push({ ...rule }),
    hold: (match) => {
      let release!: () => void;
      const entry = { match, gate: new Promise<void>((r) => (release = r)), count: 0 };
      holds.push(entry);
      return {
        release: () => {
          holds.splice(holds.indexOf(entry), 1);
          release();
        },
        held: () => entry.count,
      };
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    close: stop,
  };
}
