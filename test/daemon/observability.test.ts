// The daemon as monitoring sees it: a real `dbops daemon` with six jobs configured and
// a MariaDB of its own. /metrics goes through a strict exposition parser (Debian's Python
// prometheus_client), the three probes each answer their own question, and alerts go to a
// webhook receiver in the test: a restart with a caught-up shipper pages no one, and every
// good backup sends a success ping.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa, type ResultPromise } from 'execa';
import { startCli, runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { freePort } from '../../src/sandbox/free-port.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';

interface LogLine {
  msg: string;
  [k: string]: unknown;
}

interface Daemon {
  proc: ResultPromise<{ reject: false }>;
  logs: LogLine[];
  port: number;
}

interface Hook {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
}

let server: SandboxServer;
let root: MysqlClient;
let keysEnv: Record<string, string>;
let hookPort: number;
let hookServer: Server;
const hooks: Hook[] = [];
const started: Daemon[] = [];

/** Python's parser, strict about the text format; returns each family as it was read, in order. */
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([{"name": f.name, "type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())]))
`;
import { until } from '../helpers/until.js';

interface Family {
  name: string;
  type: string;
  samples: Array<[string, Record<string, string>, number]>;
}

async function parseMetrics(text: string): Promise<Family[]> {
  const r = await execa('/usr/bin/python3', ['-c', PARSE], { input: text, reject: false });
  expect(r.exitCode, `prometheus_client could not parse /metrics: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Family[];
}

async function newRepo(): Promise<string> {
  const { url } = await tempRepoUrl();
  const storage = await openStorage(url);
  await initRepository(storage, await loadSigningKey(keysEnv.DBOPS_SIGNING_KEY_FILE!), await resolveRecipients([keysEnv.DBOPS_AGE_RECIPIENTS!]));
  return url;
}

beforeAll(async () => {
  keysEnv = (await makeKeys()).env;
  server = await startSandboxServer({ binlog: true });
  root = await MysqlClient.connect(server.conn);
  await root.exec('CREATE DATABASE obs');
  await root.exec('CREATE TABLE obs.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))');
  await root.exec("INSERT INTO obs.t (v) VALUES ('a'), ('b')");
  await root.exec("CREATE USER 'obs'@'127.0.0.1' IDENTIFIED BY 'obs-pw'");
  await root.exec("GRANT ALL PRIVILEGES ON *.* TO 'obs'@'127.0.0.1'");
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hooks.push({ method: req.method ?? '', path: req.url ?? '', body: body ? (JSON.parse(body) as Record<string, unknown>) : null });
      res.writeHead(200).end('OK');
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', () => resolve()));
  hookPort = (hookServer.address() as { port: number }).port;
});

afterAll(async () => {
  for (const d of started) d.proc.kill('SIGKILL');
  await Promise.allSettled(started.map((d) => d.proc));
  hookServer?.close();
  await root?.close();
  await server?.stop();
});

async function baseEnv(repoUrl: string): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-obs-'));
  return {
    ...keysEnv,
    DBOPS_LOG_LEVEL: 'info',
    DBOPS_STORAGE_URL: repoUrl,
    DBOPS_SOURCE_URL: `mysql://obs:obs-pw@127.0.0.1:${server.port}`,
    DBOPS_SOURCE_DATABASES: 'obs',
    DBOPS_BACKUP_ACCOUNTS: 'false',
    DBOPS_COMPRESSION_LEVEL: '1',
    DBOPS_COMPRESSION_THREADS: '1',
    DBOPS_DAEMON_STATE_FILE: join(dir, 'state.json'),
    DBOPS_BINLOG_SPOOL_DIR: join(dir, 'spool'),
    DBOPS_DAEMON_SHUTDOWN_TIMEOUT: '20s',
    DBOPS_ALERTS_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/generic`,
    DBOPS_ALERTS_SLACK_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/slack`,
    DBOPS_SCHEDULE_BACKUP: '0 0 1 1 *',
    DBOPS_SCHEDULE_RESTORE_TEST: '0 0 1 1 *',
    DBOPS_SCHEDULE_PRUNE: '0 0 1 1 *',
    // Off the schedule too: its default runs every 5 minutes and writes into the repository.
    DBOPS_SCHEDULE_MONITOR: '0 0 1 1 *',
  };
}

async function startDaemon(env: Record<string, string>): Promise<Daemon> {
  const port = await freePort();
  const proc = startCli(['daemon'], { ...env, DBOPS_DAEMON_LISTEN: `127.0.0.1:${port}` });
  const logs: LogLine[] = [];
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
  });
  const d: Daemon = { proc, logs, port };
  started.push(d);
  await until('the daemon to listen', async () => (logs.some((l) => l.msg === 'daemon started') ? true : undefined), 60_000, () => logs.slice(-5).map((l) => JSON.stringify(l)).join('\n'));
  return d;
}

async function get(d: Daemon, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${d.port}${path}`);
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}


async function stop(d: Daemon): Promise<void> {
  d.proc.kill('SIGTERM');
  const r = await d.proc;
  expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
}

describe('dbops daemon: metrics, probes, alerts', () => {
  it('with six jobs /metrics passes a strict parser (each family once, typed); /livez is 200 while /healthz is 503 for a stale backup; /readyz follows the storage', async () => {
    const repoUrl = await newRepo();
    const env = { ...(await baseEnv(repoUrl)), DBOPS_DAEMON_SHIP_BINLOGS: 'false', DBOPS_SCHEDULE_CHECKSUM: '0 0 1 1 *', DBOPS_SCHEDULE_PARTITIONS: '0 0 1 1 *', DBOPS_ALERTS_BACKUP_STALE_AFTER: '1s' };
    const backup = await runCli(['backup'], env);
    expect(backup.exitCode, backup.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    const d = await startDaemon(env);

    const health = await get(d, '/healthz');
    expect(health.status).toBe(503);
    expect(health.body.keys).toContain('backup-stale');
    const live = await get(d, '/livez');
    expect(live.status, JSON.stringify(live.body)).toBe(200);
    expect((await get(d, '/readyz')).status).toBe(200);

    const res = await fetch(`http://127.0.0.1:${d.port}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = await parseMetrics(await res.text());
    const names = families.map((f) => f.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i), 'families that appear more than once (not contiguous)').toEqual([]);
    expect(families.filter((f) => f.type === 'unknown' || f.type === 'untyped').map((f) => f.name)).toEqual([]);
    const family = (name: string): Family => {
      const f = families.find((x) => x.name === name);
      expect(f, `family ${name}`).toBeDefined();
      return f!;
    };
    const jobs = ['backup', 'checksum', 'monitor', 'partitions', 'prune', 'restore-test'];
    expect(family('dbops_job_running').samples.map((s) => s[1].job).sort()).toEqual(jobs);
    expect(family('dbops_job_runs').type).toBe('counter');
    expect(family('dbops_job_runs').samples.map((s) => s[1].job).sort()).toEqual(jobs);
    expect(family('dbops_job_last_failure_timestamp_seconds').type).toBe('gauge');
    const info = family('dbops_build_info').samples[0]!;
    expect(info[1]).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), node_version: process.version, client_flavor: 'mariadb' });
    expect(info[2]).toBe(1);
    expect(family('process_cpu_seconds').type).toBe('counter');
    expect(family('process_resident_memory_bytes').samples[0]![2]).toBeGreaterThan(0);
    expect(family('dbops_backups').samples[0]![2]).toBe(1);
    expect(family('dbops_backups_by_kind').samples.map((x) => [x[1].kind, x[2]])).toEqual([['logical', 1], ['physical', 0]]);
    expect(family('dbops_backups_incremental').samples[0]![2]).toBe(0);
    expect(family('dbops_healthy').samples[0]![2]).toBe(0);
    // Nothing known yet is no sample, not a zero that reads as "1970" or "failed".
    expect(family('dbops_restore_test_last_pass').samples).toEqual([]);
    expect(family('dbops_shipper_up').samples).toEqual([]);

    // Storage gone: not ready (cached for up to 5 s), still live; back again: ready. The
    // repository's marker goes rather than its directory, which a job writing meanwhile
    // would make again (and the directory could then not be moved back).
    const marker = join(new URL(repoUrl).pathname, 'repo.json');
    await rename(marker, `${marker}.away`);
    const notReady = await until('/readyz 503', async () => {
      const r = await get(d, '/readyz');
      return r.status === 503 ? r.body : undefined;
    }, 20_000);
    expect(String((notReady.problems as string[])[0])).toMatch(/no repository at file:\/\/.*repo\.json is missing/);
    expect((await get(d, '/livez')).status).toBe(200);
    await rename(`${marker}.away`, marker);
    await until('/readyz 200', async () => ((await get(d, '/readyz')).status === 200 ? true : undefined), 20_000);
    await stop(d);
  });

  it('a restart with a caught-up shipper sends no alert; a good backup sends a success ping', async () => {
    const repoUrl = await newRepo();
    const env = {
      ...(await baseEnv(repoUrl)),
      DBOPS_BINLOG_MAX_LAG_SECONDS: '2',
      DBOPS_ALERTS_SHIPPING_LAG_LIMIT: '5s',
      DBOPS_ALERTS_HEARTBEAT_URL: `http://127.0.0.1:${hookPort}/ping/0b6e-secret-uuid`,
    };
    const s = new Date().getSeconds();
    const a = await startDaemon({ ...env, DBOPS_SCHEDULE_BACKUP: `${(s + 6) % 60} * * * * *` });
    await until('the scheduled backup', async () => (a.logs.some((l) => l.msg === 'job finished' && l.job === 'backup') ? true : undefined), 90_000, () => a.logs.slice(-5).map((l) => JSON.stringify(l)).join('\n'));
    expect(a.logs.find((l) => l.msg === 'job finished' && l.job === 'backup')!.outcome).toBe('ok');
    await until('the success ping', async () => (hooks.some((h) => h.method === 'GET' && h.path === '/ping/0b6e-secret-uuid') ? true : undefined), 20_000);
    await until('healthy (shipper caught up)', async () => ((await get(a, '/healthz')).status === 200 ? true : undefined), 60_000);
    await stop(a);
    expect(a.logs.map((l) => JSON.stringify(l)).join('\n'), 'the heartbeat URL is a secret').not.toContain('0b6e-secret-uuid');

    // Down for longer than the lag limit while the source writes: on restart the shipper is
    // behind by the downtime, and catches up within seconds.
    await root.exec("INSERT INTO obs.t (v) VALUES ('while down')");
    await new Promise((r) => setTimeout(r, 8000));
    hooks.length = 0;
    const b = await startDaemon(env);
    await until('healthy again', async () => ((await get(b, '/healthz')).status === 200 ? true : undefined), 60_000);
    await new Promise((r) => setTimeout(r, 6000)); // a check or more after catching up
    await stop(b);
    expect(hooks.filter((h) => h.method === 'POST').map((h) => h.body)).toEqual([]);
  });
});
