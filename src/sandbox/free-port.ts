// Asks the OS for a free loopback TCP port (never 3306, which may be a real server).
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port && port !== 3306 ? resolve(port) : freePort().then(resolve, reject)));
    });
  });
}
