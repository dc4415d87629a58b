// The daemon's probes and /metrics, on a loopback address by default (metrics describe the
// backup estate and are not for the internet):
//   /livez   the process and its loops are alive (liveness: restart the container when not)
//   /readyz  configuration loaded, storage reachable (readiness: route to it or not)
//   /healthz recoverability: backups, shipping lag, restore tests (alerting: 503 with reasons)
// A probe is a check a supervisor acts on, so each says one thing: a stale backup is a
// page for a person, never a reason to restart a live daemon.
import { createServer, type Server } from 'node:http';
import { OperationError, UsageError } from '../errors.js';

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
  const port = Number(m[2]);
  if (port < 1 || port > 65_535) throw new UsageError(`daemon.listen "${listen}": port ${port} is out of range 1-65535`);
  return { host: m[1]!, port };
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
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(listen, err)));
    server.listen(port, host);
  });
  const addr = server.address();
  return { server, address: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : listen };
}

/** A port someone else holds is a failure of this run (exit 1); an address we may never use is the config's (exit 2). */
function listenError(listen: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'EADDRINUSE') return new OperationError(`cannot listen on ${listen}: port in use (another dbops daemon, or another program); stop it or choose another daemon.listen`, { cause: err });
  if (err.code === 'EACCES') return new UsageError(`cannot listen on ${listen}: permission denied (ports below 1024 need privileges); choose another daemon.listen`, { cause: err });
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new UsageError(`cannot listen on ${listen}: the address is not one of this host's (${err.code}); choose another daemon.listen`, { cause: err });
  return new OperationError(`cannot listen on ${listen}: ${err.message}`, { cause: err });
}
