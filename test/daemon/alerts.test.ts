// The alerter against a real HTTP receiver: lag and staleness wait out the start-up grace
// (a job failure never does) and fire once it is over; success pings are plain GETs.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { Alerter } from '../../src/daemon/alerts.js';

let server: Server;
let base: string;
const got: Array<{ method: string; path: string; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ method: req.method ?? '', path: req.url ?? '', body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const problems = new Map([
  ['shipping-lag:mariadb-1-abc', 'binlog shipping lag for mariadb-1-abc is 102 s (limit 60 s)'],
  ['backup-stale', 'newest good backup is 3 d old'],
  ['job:backup', 'backup failed: access denied'],
]);

describe('Alerter', () => {
  it('holds lag and staleness back during the grace, never a job failure; sends them after it', async () => {
    got.length = 0;
    const during = new Alerter({ webhookUrl: `${base}/hook`, repeatAfterMs: 3_600_000, graceUntil: Date.now() + 3_600_000 });
    during.update(problems);
    await during.flush();
    expect(got.map((g) => (JSON.parse(g.body) as { key: string }).key)).toEqual(['job:backup']);

    got.length = 0;
    const after = new Alerter({ webhookUrl: `${base}/hook`, repeatAfterMs: 3_600_000, graceUntil: Date.now() - 1 });
    after.update(problems);
    await after.flush();
    expect(got.map((g) => (JSON.parse(g.body) as { key: string }).key).sort()).toEqual(['backup-stale', 'job:backup', 'shipping-lag:mariadb-1-abc']);
  });

  it('pings the heartbeat URL with a GET', async () => {
    got.length = 0;
    const a = new Alerter({ heartbeatUrl: `${base}/ping/abc`, repeatAfterMs: 1000 });
    a.heartbeat('backup');
    await a.flush();
    expect(got).toEqual([{ method: 'GET', path: '/ping/abc', body: '' }]);
  });
});
