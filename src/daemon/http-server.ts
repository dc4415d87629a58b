// The daemon's probes and /metrics, on a loopback address by default (metrics describe the
// backup estate and are not for the internet):
//   /livez   the process and its loops are alive (liveness: restart the container when not)
//   /readyz  configuration loaded, storage reachable (readiness: route to it or not)
//   /healthz recoverability: backups, shipping lag, restore tests (alerting: 503 with reasons)
// A probe is a check a supervisor acts on, so each says one thing: a stale backup is a
// page for a person, never a reason to restart a live daemon.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { UsageError } from '../errors.js';

export interface ProbeAnswer {
  ok: boolean;
  body: unknown;
}

export interface HttpHandlers {
  live(): Promise<ProbeAnswer>;
  ready(): Promise<ProbeAnswer>;
  health(): Promise<ProbeAnswer>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

const PROBES = { '/livez': 'live', '/readyz': 'ready', '/healthz': 'health' } as const;

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new UsageError(`daemon.listen "${listen}" is not host:port (e.g. 127.0.0.1:9187)`);
  return { host: m[1]!, port: Number(m[2]) };
}

export async function startHttpServer(listen: string, handlers: HttpHandlers): Promise<{ server: Server; address: string }> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = async (): Promise<void> => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path !== undefined && Object.hasOwn(PROBES, path)) {
        const h = await handlers[PROBES[path as keyof typeof PROBES]]();
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(h.body)}\n`);
      } else if (path === '/metrics') {
        const m = await handlers.metrics();
        res.writeHead(200, { 'content-type': m.contentType }).end(m.body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /livez, /readyz, /healthz or /metrics\n');
      }
    };
    reply().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(503, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ healthy: false, reasons: [`status unavailable: ${(err as Error).message}`] })}\n`);
    });
  });
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(new UsageError(`cannot listen on ${listen}: ${(err as Error).message}; choose another daemon.listen`)))]);
  const addr = server.address();
  return { server, address: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : listen };
}
