// The daemon as operators run it: a real `dbops daemon` process, a MariaDB of its own,
// second-level schedules, a dump slowed by a wrapper on PATH (a long backup is a fault
// a small test database cannot produce), a webhook receiver, and /healthz + /metrics.
// Phase 1: jobs run on time, a long backup never overlaps itself, SIGTERM mid-backup
// exits 0 and leaves no manifest. Phase 2: kill -9 mid-backup. Phase 3: the restart
// catches up, /healthz follows the shipper down and back up, alerts fire and clear
// once each, /metrics matches `dbops list --json`.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { ResultPromise } from 'execa';
import { startCli, runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { freePort } from '../../src/sandbox/free-port.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { until } from '../helpers/until.js';

interface LogLine {
  msg: string;
  job?: string;
  outcome?: string;
  reason?: string;
  scheduledFor?: string;
  startedAt?: string;
  endedAt?: string;
  backupId?: string;
  [k: string]: unknown;
}

interface Daemon {
  proc: ResultPromise<{ reject: false }>;
  logs: LogLine[];
  waitFor(what: string, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

let server: SandboxServer;
let root: MysqlClient;
let repo: Repository;
let repoUrl: string;
let env: Record<string, string>;
let port: number;
let spoolBase: string;
let binDir: string;
const hooks: Array<{ path: string; body: Record<string, unknown> }> = [];
let hookServer: Server;
const started: Daemon[] = [];

beforeAll(async () => {
  const keys = await makeKeys();
  server = await startSandboxServer({ binlog: true });
  root = await MysqlClient.connect(server.conn);
  await root.exec('CREATE DATABASE dmn');
  await root.exec('CREATE TABLE dmn.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))');
  await root.exec("INSERT INTO dmn.t (v) VALUES ('a'), ('b'), ('c')");
  await root.exec("CREATE USER 'dmn'@'127.0.0.1' IDENTIFIED BY 'dmn-pw'");
  await root.exec("GRANT ALL PRIVILEGES ON *.* TO 'dmn'@'127.0.0.1'");
  const r = await tempRepoUrl();
  repoUrl = r.url;
  const storage = await openStorage(repoUrl);
  const signer = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  await initRepository(storage, signer, await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]));
  repo = await openRepository(storage, { signer });
  // The slow dump: the real one, its first 4 KiB, a pause, the rest (exit status kept).
  const bin = await mkdtemp(join(tmpdir(), 'dbops-slowdump-'));
  binDir = bin;
  const realDump = findTool('mariadb-dump')!;
  await writeFile(join(bin, 'mariadb-dump'), `#!/bin/bash\nset -o pipefail\n"${realDump}" "$@" | { dd bs=4096 count=1 iflag=fullblock status=none; sleep 3; cat; }\n`);
  await chmod(join(bin, 'mariadb-dump'), 0o755);
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hooks.push({ path: req.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', () => resolve()));
  const hookPort = (hookServer.address() as { port: number }).port;
  port = await freePort();
  spoolBase = await mkdtemp(join(tmpdir(), 'dbops-daemon-spool-'));
  env = {
    ...keys.env,
    PATH: `${bin}:${process.env.PATH}`,
    DBOPS_LOG_LEVEL: 'info',
    DBOPS_STORAGE_URL: repoUrl,
    DBOPS_SOURCE_URL: `mysql://dmn:dmn-pw@127.0.0.1:${server.port}`,
    DBOPS_SOURCE_DATABASES: 'dmn',
    DBOPS_BACKUP_ACCOUNTS: 'false',
    DBOPS_COMPRESSION_LEVEL: '1',
    DBOPS_COMPRESSION_THREADS: '1',
    DBOPS_BINLOG_MAX_LAG_SECONDS: '4',
    DBOPS_DAEMON_LISTEN: `127.0.0.1:${port}`,
    DBOPS_DAEMON_STATE_FILE: join(spoolBase, 'state.json'),
    DBOPS_DAEMON_SHUTDOWN_TIMEOUT: '20s',
    DBOPS_ALERTS_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/generic`,
    DBOPS_ALERTS_SLACK_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/slack`,
    DBOPS_ALERTS_SHIPPING_LAG_LIMIT: '10s',
    DBOPS_ALERTS_BACKUP_STALE_AFTER: '10m',
    // Lag alerts are held back after start (alerts.startupGrace); this test wants them as soon as they are real.
    DBOPS_ALERTS_STARTUP_GRACE: '1s',
  };
});

afterAll(async () => {
  for (const d of started) d.proc.kill('SIGKILL');
  await Promise.allSettled(started.map((d) => d.proc));
  await killOrphans();
  hookServer?.close();
  await root?.close();
  await server?.stop();
});

/** Children of a daemon killed with -9 (its binlog streamer, the slow dump) outlive it: end them by pid. */
async function killOrphans(): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(spoolBase) || cmd.includes(binDir)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Jobs this file does not test stay out of its way (the monitor job, for one, fails while the shipper's account is locked). */
const untested = { DBOPS_SCHEDULE_CHECKSUM: '0 0 1 1 *', DBOPS_SCHEDULE_PARTITIONS: '0 0 1 1 *', DBOPS_SCHEDULE_MONITOR: '0 0 1 1 *' };

function startDaemon(extra: Record<string, string>): Daemon {
  const proc = startCli(['daemon'], { ...env, ...untested, ...extra });
  const logs: LogLine[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
    }
    for (const w of waiters) w();
  });
  const d: Daemon = {
    proc,
    logs,
    waitFor: (what, pred, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = logs.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; last logs: ${logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}`)), timeoutMs);
        waiters.push(check);
        check();
      }),
  };
  started.push(d);
  return d;
}

async function health(): Promise<{ status: number; body: { healthy: boolean; reasons: string[]; keys: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: (await res.json()) as { healthy: boolean; reasons: string[]; keys: string[] } };
}


const yearly = { DBOPS_SCHEDULE_BACKUP: '0 0 1 1 *', DBOPS_SCHEDULE_RESTORE_TEST: '0 0 1 1 *', DBOPS_SCHEDULE_PRUNE: '0 0 1 1 *' };

describe('dbops daemon', () => {
  it('phase 1: runs backup, restore test and prune on time; a long backup never overlaps itself; SIGTERM mid-backup exits 0', async () => {
    const s = new Date().getSeconds();
    const d = startDaemon({
      DBOPS_SCHEDULE_BACKUP: '*/2 * * * * *',
      DBOPS_SCHEDULE_RESTORE_TEST: `${(s + 14) % 60} * * * * *`,
      DBOPS_SCHEDULE_PRUNE: `${(s + 11) % 60},${(s + 24) % 60} * * * * *`,
      DBOPS_BINLOG_SPOOL_DIR: join(spoolBase, 'a'),
    });
    await d.waitFor('restore test', (l) => l.msg === 'job finished' && l.job === 'restore-test', 90_000);
    await d.waitFor('second prune', (l) => l.msg === 'job finished' && l.job === 'prune' && d.logs.filter((x) => x.msg === 'job finished' && x.job === 'prune').length >= 2, 60_000);
    const finished = (job: string): LogLine[] => d.logs.filter((l) => l.msg === 'job finished' && l.job === job);
    expect(finished('restore-test').map((l) => [l.outcome, l.err])).toEqual([['ok', undefined]]);
    expect(finished('prune').every((l) => l.outcome === 'ok')).toBe(true);
    expect(finished('backup').filter((l) => l.outcome === 'ok').length).toBeGreaterThanOrEqual(2);
    // On time: every scheduled start within 1.5 s of its cron instant (no jitter configured).
    const starts = d.logs.filter((l) => l.msg === 'job started' && l.reason === 'schedule');
    for (const l of starts) expect(Math.abs(Date.parse(l.startedAt!) - Date.parse(l.scheduledFor!)), `${l.job} at ${l.scheduledFor}`).toBeLessThan(1500);
    // A backup takes > 3 s, its schedule fires every 2 s: skipped, never overlapping.
    expect(d.logs.some((l) => l.msg === 'job skipped: the previous run is still going' && l.job === 'backup')).toBe(true);
    const runs = finished('backup').map((l) => [Date.parse(l.startedAt!), Date.parse(l.endedAt!)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < runs.length; i++) expect(runs[i]![0]).toBeGreaterThanOrEqual(runs[i - 1]![1]);

    // SIGTERM while a backup is in its slow dump.
    const n = d.logs.filter((l) => l.msg === 'backup started').length;
    const running = await d.waitFor('a backup in progress', (l) => l.msg === 'backup started' && d.logs.filter((x) => x.msg === 'backup started').indexOf(l) >= n, 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    d.proc.kill('SIGTERM');
    const result = await d.proc;
    expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(finished('backup').at(-1)!.outcome).toBe('interrupted');
    const ids = (await repo.backups.list()).map((b) => b.id);
    expect(ids).not.toContain(running.backupId);
    const left: string[] = [];
    for await (const o of repo.storage.list(`backups/${running.backupId}/`)) left.push(o.key);
    expect(left).toEqual([]);
  });

  it('phase 2+3: kill -9 mid-backup, restart catches up; /healthz follows the shipper; alerts once; /metrics matches list', async () => {
    const before = (await repo.backups.list()).map((b) => b.id);
    const b = startDaemon({ ...yearly, DBOPS_BINLOG_SPOOL_DIR: join(spoolBase, 'b') });
    // The run SIGTERM cut short is caught up at start; kill -9 in the middle of it.
    await b.waitFor('catch-up backup', (l) => l.msg === 'job started' && l.job === 'backup' && /^catch-up/.test(l.reason ?? ''), 60_000);
    await b.waitFor('dump running', (l) => l.msg === 'backup started', 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    b.proc.kill('SIGKILL');
    await b.proc;
    await killOrphans();
    expect((await repo.backups.list()).map((x) => x.id)).toEqual(before);
    const state = JSON.parse(await readFile(env.DBOPS_DAEMON_STATE_FILE!, 'utf8')) as { jobs: Record<string, { outcome: string }> };
    expect(state.jobs.backup!.outcome).toBe('running');

    const c = startDaemon({ ...yearly, DBOPS_BINLOG_SPOOL_DIR: join(spoolBase, 'c') });
    await c.waitFor('caught-up backup', (l) => l.msg === 'job finished' && l.job === 'backup', 60_000);
    expect(c.logs.find((l) => l.msg === 'job started' && l.job === 'backup')!.reason).toMatch(/^catch-up: the run started .* did not finish/);
    expect(c.logs.find((l) => l.msg === 'job finished' && l.job === 'backup')!.outcome).toBe('ok');
    const after = (await repo.backups.list()).map((x) => x.id);
    expect(after.length).toBe(before.length + 1);

    const ok = await until('healthy', async () => ((await health()).status === 200 ? true : undefined), 60_000);
    expect(ok).toBe(true);

    // /metrics is Prometheus text and agrees with `dbops list --json`.
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const samples = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})?) (-?[0-9.e+]+)$/.exec(line);
      expect(m, `not a Prometheus sample line: ${line}`).not.toBeNull();
      samples.set(m![1]!, Number(m![2]));
    }
    const list = await runCli(['list', '--json'], env);
    const listed = JSON.parse(list.stdout) as { backups: Array<{ id: string; completedAt: string; rawBytes: number; storedBytes: number }> };
    const newest = listed.backups.at(-1)!;
    expect(samples.get('dbops_backups')).toBe(listed.backups.length);
    expect(samples.get('dbops_backup_newest_raw_bytes')).toBe(newest.rawBytes);
    expect(samples.get('dbops_backup_newest_stored_bytes')).toBe(newest.storedBytes);
    expect(samples.get('dbops_backups_stored_bytes')).toBe(listed.backups.reduce((n, x) => n + x.storedBytes, 0));
    expect(samples.get('dbops_backup_newest_timestamp_seconds')).toBeCloseTo(Date.parse(newest.completedAt) / 1000, 2);
    expect(samples.get('dbops_restore_test_last_pass')).toBe(1);
    expect(samples.get('dbops_healthy')).toBe(1);
    expect(samples.get('dbops_job_last_success_timestamp_seconds{job="backup"}')).toBeGreaterThan(0);
    expect([...samples.keys()].some((k) => k.startsWith('dbops_binlog_shipping_lag_seconds{source="mariadb-'))).toBe(true);

    // Stop the shipper (lock its account, cut its connections): 503 with the reason, then back.
    await root.exec("ALTER USER 'dmn'@'127.0.0.1' ACCOUNT LOCK");
    for (const p of await root.query<{ id: number }>("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = 'dmn'")) await root.exec(`KILL ${p.id}`).catch(() => undefined);
    const down = await until('503', async () => {
      const h = await health();
      return h.status === 503 ? h.body : undefined;
    }, 60_000);
    expect(down.reasons.join('\n')).toMatch(/binlog shipping lag for mariadb-\S+ is \d+ s \(limit 10 s\)/);
    await new Promise((r) => setTimeout(r, 6000)); // several health checks while down: still one alert
    await root.exec("ALTER USER 'dmn'@'127.0.0.1' ACCOUNT UNLOCK");
    await until('200 again', async () => ((await health()).status === 200 ? true : undefined), 90_000);
    await new Promise((r) => setTimeout(r, 6000)); // the resolved alert goes out on the next check

    const lag = hooks.filter((h) => h.path === '/generic' && String(h.body.key).startsWith('shipping-lag:'));
    expect(lag.map((h) => h.body.status)).toEqual(['firing', 'resolved']);
    expect(String(lag[0]!.body.message)).toMatch(/binlog shipping lag/);
    const slack = hooks.filter((h) => h.path === '/slack' && /binlog shipping lag/.test(String(h.body.text)));
    expect(slack.length).toBe(2);

    c.proc.kill('SIGTERM');
    expect((await c.proc).exitCode).toBe(0);
  });
});
