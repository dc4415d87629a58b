// /healthz (200, or 503 with the reasons) and /metrics (Prometheus text) on a loopback
// address by default: metrics describe the backup estate and are not for the internet.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { UsageError } from '../errors.js';

export interface HttpHandlers {
  health(): Promise<{ healthy: boolean; body: unknown }>;
  metrics(): Promise<string>;
}

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
      } else if (path === '/healthz') {
        const h = await handlers.health();
        res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(h.body)}\n`);
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(await handlers.metrics());
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
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
