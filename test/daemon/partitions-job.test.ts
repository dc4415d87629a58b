// The daemon's partitions job in production, as operators run it: a real `dbops daemon` process
// against the shared MariaDB, a seeded horizn_ database whose oldest days are past retention, and a
// webhook receiver. Without partitions.autoApply (production's consent) the job still makes future
// partitions and rotates salts, then fails naming what is past retention: /healthz, `dbops status`
// and an alert say so. With it, the job archives and drops expired partitions and deletes sessions
// and realtime_visitors rows past their windows, and health is green again. (D1: the job used to run
// the CLI without --confirm-production and with stdin closed, and failed every time while health
// stayed green.)
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { startCli, runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { mariadb } from '../helpers/mariadb.js';
import { openFreshDb, type TestDb } from '../migrate/helpers.js';
import { addDays, listDatePartitions, up } from '../../src/migrate/index.js';
import { seed } from '../../src/seed/index.js';
import { freePort } from '../../src/sandbox/free-port.js';
import { until } from '../helpers/until.js';

const DB = 'dj_horizn';
const today = new Date().toISOString().slice(0, 10);
let d: TestDb;
let env: Record<string, string>;
let port: number;
let hookServer: Server;
const hooks: Array<Record<string, unknown>> = [];
const procs: Array<ReturnType<typeof startCli>> = [];

beforeAll(async () => {
  d = await openFreshDb(DB);
  await up(d.conn);
  await seed(d.conn, { sizeBytes: 1_000_000, sites: 1, days: 8, seed: 11, endDate: today });
  // Presence not seen for 3 hours (retention 1h) and a salt of 5 days ago: both must go.
  await d.conn.query(
    `INSERT INTO realtime_visitors (site_id, user_hash, session_id, page_path, device, last_seen_at)
     VALUES (1, UNHEX(SHA2('stale', 256)), UNHEX(REPEAT('ab', 16)), '/', 'desktop', UTC_TIMESTAMP(3) - INTERVAL 3 HOUR)`,
  );
  await d.conn.query('INSERT INTO visitor_salts (day, salt) VALUES (?, RANDOM_BYTES(32))', [addDays(today, -5)]);
  const keys = await makeKeys();
  const repo = await tempRepoUrl();
  const state = await tempDir('dbops-pj-state-');
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (x: Buffer) => (body += x.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', () => resolve()));
  port = await freePort();
  env = {
    ...keys.env,
    DBOPS_LOG_LEVEL: 'info',
    DBOPS_ENVIRONMENT: 'production',
    DBOPS_STORAGE_URL: repo.url,
    DBOPS_SOURCE_URL: `${mariadb().url}/${DB}`,
    DBOPS_SOURCE_DATABASES: DB,
    DBOPS_BACKUP_ACCOUNTS: 'false',
    DBOPS_COMPRESSION_LEVEL: '1',
    DBOPS_COMPRESSION_THREADS: '1',
    DBOPS_DAEMON_SHIP_BINLOGS: 'false',
    DBOPS_DAEMON_LISTEN: `127.0.0.1:${port}`,
    DBOPS_DAEMON_STATE_FILE: join(state, 'state.json'),
    DBOPS_DAEMON_SHUTDOWN_TIMEOUT: '20s',
    DBOPS_ALERTS_WEBHOOK_URL: `http://127.0.0.1:${(hookServer.address() as { port: number }).port}/hook`,
    DBOPS_SCHEDULE_BACKUP: '0 0 1 1 *',
    DBOPS_SCHEDULE_RESTORE_TEST: '0 0 1 1 *',
    DBOPS_SCHEDULE_PRUNE: '0 0 1 1 *',
    DBOPS_SCHEDULE_PARTITIONS: '*/3 * * * * *',
    DBOPS_RETENTION_PAGEVIEWS: '5d',
    DBOPS_RETENTION_EVENTS: '5d',
    DBOPS_RETENTION_SESSIONS: '5d',
    DBOPS_PARTITIONS_AHEAD_DAYS: '4',
  };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const backup = await runCli(['backup'], env); // so that nothing but the job can make health red
  expect(backup.exitCode, backup.stderr).toBe(0);
});

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.allSettled(procs);
  hookServer?.close();
  await d?.close();
});

interface Health {
  status: number;
  body: { healthy: boolean; reasons: string[]; keys: string[] };
}

async function health(): Promise<Health> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: (await res.json()) as Health['body'] };
}


async function stop(p: ReturnType<typeof startCli>): Promise<void> {
  p.kill('SIGTERM');
  expect((await p).exitCode).toBe(0);
}

describe('the daemon partitions job with environment: production', () => {
  it('without partitions.autoApply: future partitions made, then the job fails and health, status and an alert say why', async () => {
    const p = startCli(['daemon'], env);
    procs.push(p);
    const red = await until('503 naming the partitions job', async () => {
      const h = await health();
      return h.status === 503 && h.body.keys.includes('job:partitions') ? h : undefined;
    });
    expect(red.body.reasons.join('\n')).toMatch(/partitions failed at .*environment is production and partitions\.autoApply is off .*partition\(s\).* past retention in dj_horizn were not deleted/);
    const status = await runCli(['status'], env);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toMatch(/UNHEALTHY:\n(.*\n)*\s+- partitions failed at .*partitions\.autoApply is off/);
    await until('the alert', async () => (hooks.some((h) => h.key === 'job:partitions' && h.status === 'firing') ? true : undefined), 30_000);
    await stop(p);
    // The safe steps ran: partitions through today + 4, today's and tomorrow's salts; nothing deleted.
    const parts = (await listDatePartitions(d.conn, 'pageviews')).map((x) => x.name);
    expect(parts).toContain(`p${addDays(today, 4).replaceAll('-', '')}`);
    expect(parts[0]).toBe(`p${addDays(today, -7).replaceAll('-', '')}`);
    const [salts] = await d.conn.query<RowDataPacket[]>("SELECT DATE_FORMAT(MIN(day), '%Y-%m-%d') AS lo, COUNT(*) AS n FROM visitor_salts");
    expect(salts[0]).toEqual({ lo: today, n: 2 }); // the one of 5 days ago destroyed even so
  });

  it('with partitions.autoApply: retention of every visitor table is applied and health is green again', async () => {
    const p = startCli(['daemon'], { ...env, DBOPS_PARTITIONS_AUTO_APPLY: 'true' });
    procs.push(p);
    await until('200 without the job reason', async () => {
      const h = await health();
      return h.status === 200 ? h : undefined;
    });
    await stop(p);
    const cutoff = addDays(today, -5);
    const parts = await listDatePartitions(d.conn, 'pageviews');
    expect(parts.filter((x) => x.lessThan !== null && x.lessThan <= cutoff)).toEqual([]);
    expect(parts.map((x) => x.name)).toContain(`p${addDays(today, 4).replaceAll('-', '')}`);
    const [rows] = await d.conn.query<RowDataPacket[]>(
      `SELECT (SELECT COUNT(*) FROM sessions WHERE started_at < ?) AS old_sessions,
              (SELECT COUNT(*) FROM sessions) AS sessions,
              (SELECT COUNT(*) FROM realtime_visitors WHERE last_seen_at < UTC_TIMESTAMP(3) - INTERVAL 1 HOUR) AS old_presence,
              (SELECT COUNT(*) FROM visitor_salts WHERE day < ?) AS old_salts`,
      [cutoff, addDays(today, -1)],
    );
    expect(rows[0]).toMatchObject({ old_sessions: 0, old_presence: 0, old_salts: 0 });
    expect(Number(rows[0]!.sessions)).toBeGreaterThan(0);
  });
});
