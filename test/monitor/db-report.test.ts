// Database monitoring on a real MariaDB 10.11 with performance_schema on (an option of the test
// server, not the sandbox default: it costs memory), the horizn_ schema migrated and seeded, an
// index made for the test that nothing reads, one another index makes redundant, rows beyond
// the daily partitions, a query load and an application's connections. `dbops db report --json`
// must list all of them; a running daemon's /metrics must carry the same values (parsed by
// Python's strict prometheus_client), send the database alerts, and declare every metric the
// Grafana dashboard queries; the monitor role's printed grants must be enough and exact; the
// HTML page must fit 1280 px. On the shared server (performance_schema off) statements come from
// mysql.slow_log instead.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startCli, runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { mariadb } from '../helpers/mariadb.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { chromium, renderAt1280 } from '../helpers/chromium.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import { freePort } from '../../src/sandbox/free-port.js';
import type { DbReport } from '../../src/monitor/report-types.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { encodeDocument } from '../../src/repo/signed-document.js';
import { storageSampleDoc } from '../../src/monitor/history-store.js';
import { storageSampleKey } from '../../src/storage/layout.js';

let server: SandboxServer;
let root: MysqlClient;
let env: Record<string, string>;
let dir: string;
let repoDir: string;
let today: string;
const apps: MysqlClient[] = [];
const hooks: Array<{ key: string; status: string; message: string }> = [];
let hookServer: Server;
let hookPort: number;

const LOAD = 'SELECT page_path, COUNT(*) AS n FROM horizn.pageviews GROUP BY page_path ORDER BY n DESC LIMIT 10';
const LOAD_RUNS = 40;

async function cli(args: string[], extra: Record<string, string> = {}): Promise<string> {
  const r = await runCli(args, { ...env, ...extra });
  expect(r.exitCode, `dbops ${args.join(' ')}: ${r.stderr.slice(-1500)}`).toBe(0);
  return r.stdout;
}

async function dbReport(extra: Record<string, string> = {}): Promise<DbReport> {
  return JSON.parse(await cli(['db', 'report', '--json'], extra)) as DbReport;
}

beforeAll(async () => {
  server = await startSandboxServer({ binlog: true, extraArgs: ['--performance-schema=ON'] });
  root = await MysqlClient.connect(server.conn);
  today = (await root.query<{ d: string }>("SELECT DATE_FORMAT(UTC_DATE(), '%Y-%m-%d') AS d"))[0]!.d;
  const keys = await makeKeys();
  const repo = await tempRepoUrl();
  dir = await tempDir('dbops-mon-');
  repoDir = repo.dir;
  env = {
    ...keys.env,
    DBOPS_STORAGE_URL: repo.url,
    DBOPS_SOURCE_URL: server.url,
    DBOPS_SOURCE_DATABASES: 'horizn',
    DBOPS_MONITOR_TOP_STATEMENTS: '20',
  };
  await cli(['init']);
  await cli(['migrate', 'up']);
  await cli(['seed', '--size', '5MB', '--end-date', today]);
  await cli(['partitions', 'maintain', '--apply', '--today', today]);
  await root.exec('CREATE INDEX dbops_test_unused ON horizn.pageviews (page_title)');
  await root.exec('CREATE INDEX dbops_test_redundant ON horizn.events (site_id, event_name)');
  // Beyond the daily partitions: these land in the catch-all.
  await root.exec(
    'INSERT INTO horizn.pageviews (day, site_id, session_id, `timestamp`, page_path) SELECT DATE_ADD(UTC_DATE(), INTERVAL 40 DAY), site_id, session_id, TIMESTAMP(DATE_ADD(UTC_DATE(), INTERVAL 40 DAY), \'10:00:00\'), page_path FROM horizn.pageviews LIMIT 5',
  );
  for (let i = 0; i < LOAD_RUNS; i++) await root.query(LOAD);
  await root.exec("CREATE USER 'mon_app'@'127.0.0.1' IDENTIFIED BY 'app-pw'");
  for (let i = 0; i < 3; i++) apps.push(await MysqlClient.connect({ ...server.conn, user: 'mon_app', password: 'app-pw' }));
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (body) hooks.push(JSON.parse(body) as { key: string; status: string; message: string });
      res.writeHead(200).end('OK');
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', () => resolve()));
  hookPort = (hookServer.address() as { port: number }).port;
});

afterAll(async () => {
  for (const a of apps) await a.close();
  hookServer?.close();
  await root?.close();
  await server?.stop();
});

describe('dbops db report on the seeded horizn_ database', () => {
  let report: DbReport;

  it('lists the top statements after a query load, the unused and the redundant index, per-partition sizes, the catch-all rows and connection figures', async () => {
    report = await dbReport();
    expect(report.source.performanceSchema).toBe(true);
    expect(report.databases).toEqual(['horizn']);

    expect(report.statements.available).toBe(true);
    if (!report.statements.available) return;
    const load = report.statements.statements.find((s) => /GROUP BY `page_path`/.test(s.text));
    expect(load, report.statements.statements.map((s) => s.text).join('\n')).toBeDefined();
    expect(load!.calls).toBe(LOAD_RUNS);
    expect(load!.meanSeconds).toBeGreaterThan(0);
    expect(load!.rowsSent).toBe(LOAD_RUNS * 10);
    expect(load!.rowsExamined).toBeGreaterThan(LOAD_RUNS * 10_000);
    expect(load!.p95Seconds).toBeNull();
    expect(report.statements.p95).toMatch(/^not available: MariaDB keeps no latency distribution/);
    // Our own monitoring statements are not the application's load.
    expect(report.statements.statements.some((s) => /performance_schema|information_schema/.test(s.text))).toBe(false);

    expect(report.indexes.unused.available).toBe(true);
    if (report.indexes.unused.available) expect(report.indexes.unused.indexes).toContainEqual({ schema: 'horizn', table: 'pageviews', index: 'dbops_test_unused', columns: ['page_title'], unique: false });
    expect(report.indexes.redundant).toContainEqual({ schema: 'horizn', table: 'events', index: 'dbops_test_redundant', columns: ['site_id', 'event_name'], kind: 'prefix', coveredBy: 'events_site_name_time', coveredByColumns: ['site_id', 'event_name', 'timestamp'] });
    expect(report.indexes.fullScans.available).toBe(true);

    expect(report.storage.available).toBe(true);
    if (!report.storage.available) return;
    const pv = report.storage.partitions.filter((p) => p.table === 'pageviews');
    expect(pv.length).toBeGreaterThanOrEqual(30 + 7);
    expect(pv.find((p) => p.partition === `p${today.replaceAll('-', '')}`)!.dataBytes).toBeGreaterThan(0);
    const pvTable = report.storage.tables.find((t) => t.table === 'pageviews')!;
    expect(pvTable.dataBytes).toBe(pv.reduce((n, p) => n + p.dataBytes, 0));
    const daily = report.storage.datePartitioned.find((t) => t.table === 'pageviews')!;
    expect(daily).toMatchObject({ daysAhead: 7, catchAll: { partition: 'pmax', rows: 5 } });
    expect(report.storage.datePartitioned.find((t) => t.table === 'events')).toMatchObject({ daysAhead: 7, catchAll: { rows: 0 } });
    // The first look of the day with a writable repository keeps the day's sample.
    expect(report.storage.recorded).toBe(true);
    expect(report.storage.growth.bytesPerDay).toBeNull();

    expect(report.connections.available).toBe(true);
    if (!report.connections.available) return;
    expect(report.connections.max).toBe(151);
    expect(report.connections.current).toBeGreaterThanOrEqual(5);
    expect(report.connections.maxUsed).toBeGreaterThanOrEqual(report.connections.current);
    expect(report.connections.byUser).toMatchObject({ available: true, source: 'performance_schema' });
    if (report.connections.byUser.available) expect(report.connections.byUser.users.find((u) => u.user === 'mon_app')).toMatchObject({ current: 3, total: 3 });

    expect(report.errors).toMatchObject({ available: true, source: 'file', file: server.errorLog, since: null });
    expect(report.alerts.map((a) => a.key)).toEqual(['db:catch-all:horizn.pageviews']);

    const again = await dbReport();
    expect(again.storage.available && again.storage.recorded).toBe(false);
  });

  it('as text, names the same facts', async () => {
    const text = await cli(['db', 'report']);
    expect(text).toMatch(/ALERTS \(1\)/);
    expect(text).toContain('dbops_test_unused');
    expect(text).toMatch(/dbops_test_redundant\s+site_id, event_name\s+events_site_name_time/);
    expect(text).toMatch(/horizn\.pageviews\s+\d+\s+\S+\s+7\s+pmax\s+5/);
    expect(text).toMatch(/mon_app\s+3\s+3/);
  });

  it.skipIf(!chromium && !process.env.CI)('--html writes a self-contained page that fits 1280 px', async () => {
    const file = join(dir, 'db.html');
    await cli(['db', 'report', '--html', file]);
    const html = await readFile(file, 'utf8');
    expect(html).not.toMatch(/<script|<link|src="http/);
    const r = await renderAt1280(html, 'db-report');
    expect(r.wide, `elements past the window: ${r.wide.join(', ')}`).toEqual([]);
    expect(r.scrollWidth).toBeLessThanOrEqual(r.innerWidth);
    for (const heading of ['Slow statements, by total time', 'Unused indexes', 'Redundant indexes', 'Daily partitions', 'Connections', 'Error log']) expect(r.text).toContain(heading);
    expect(r.text).toContain('dbops_test_unused');
    expect(r.text).toContain('about 5 row(s) in the catch-all partition pmax');
    expect(r.text).toMatch(/horizn\.pageviews : \d+ partitions/);
  });

  it('a bad --html path is a usage error (exit 2) before anything is read', async () => {
    const r = await runCli(['db', 'report', '--html', '/nonexistent-dir/db.html'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/cannot write --html \/nonexistent-dir\/db\.html: \/nonexistent-dir is not a writable directory/);
  });
});

describe('growth from the daily history', () => {
  it('fits bytes per day to the signed samples of earlier days, forecasts, counts the days to monitor.diskLimit and alerts; a tampered sample is named and left out', async () => {
    const now = await dbReport();
    if (!now.storage.available) throw new Error('storage unavailable');
    const total = now.storage.totalBytes;
    const key = await loadSigningKey(env.DBOPS_SIGNING_KEY_FILE!);
    const day = (back: number): string => new Date(Date.parse(`${today}T00:00:00Z`) - back * 86_400_000).toISOString().slice(0, 10);
    // Ten and five days ago the databases were 2 MB and 1 MB smaller: 200 kB a day.
    for (const [back, smaller] of [[10, 2e6], [5, 1e6]] as const) {
      const { bytes } = encodeDocument(storageSampleDoc, { sourceId: now.source.serverUuid, day: day(back), takenAt: new Date(Date.parse(now.takenAt) - back * 86_400_000).toISOString(), databases: ['horizn'], totalBytes: total - smaller, tables: [{ schema: 'horizn', table: 'pageviews', dataBytes: total - smaller, indexBytes: 0, rows: 1 }] }, key);
      await writeFile(join(repoDir, storageSampleKey(now.source.serverUuid, day(back))), bytes);
    }
    const forged = storageSampleKey(now.source.serverUuid, day(3));
    const { bytes } = encodeDocument(storageSampleDoc, { sourceId: now.source.serverUuid, day: day(3), takenAt: now.takenAt, databases: ['horizn'], totalBytes: 1, tables: [] }, key);
    await writeFile(join(repoDir, forged), bytes.toString().replace('"totalBytes": 1', '"totalBytes": 2'));

    const r = await dbReport({ DBOPS_MONITOR_DISK_LIMIT: String(total + 3e6), DBOPS_MONITOR_FORECAST_DAYS: '30' });
    if (!r.storage.available) throw new Error('storage unavailable');
    const g = r.storage.growth;
    expect(g.samples).toBe(3);
    expect(g.bytesPerDay! / 2e5).toBeCloseTo(1, 1);
    expect(g.forecastBytes! / (total + 30 * 2e5)).toBeCloseTo(1, 2);
    expect(g.daysUntilLimit!).toBeGreaterThan(13);
    expect(g.daysUntilLimit!).toBeLessThan(17);
    expect(g.notes.join('\n')).toMatch(new RegExp(`sample left out: .*${day(3)}\\.json.*signature`));
    expect(r.alerts.find((a) => a.key === 'db:disk-forecast')?.message).toMatch(/reach monitor\.diskLimit .* in 1\d\.\d days/);
  });
});

describe('the monitor role', () => {
  it('with exactly the printed grants the report has every section, and doctor finds the account exact', async () => {
    const pwFile = join(dir, 'monitor.pw');
    await writeFile(pwFile, 'mon-Pw-1', { mode: 0o600 });
    const roleEnv = { DBOPS_MONITOR_URL: `mysql://mon_role@127.0.0.1:${server.port}`, DBOPS_MONITOR_PASSWORD_FILE: pwFile };
    const printed = await cli(['doctor', '--print-grants', '--flavor', 'mariadb'], roleEnv);
    const lines = printed.split('\n');
    const monitor = lines.slice(lines.findIndex((l) => l.startsWith('-- monitor:'))).filter((l) => l && !l.startsWith('--'));
    expect(monitor).toEqual([
      "CREATE USER IF NOT EXISTS 'mon_role'@'%' IDENTIFIED BY 'change-me';",
      "GRANT PROCESS, SHOW VIEW ON *.* TO 'mon_role'@'%';",
      "GRANT SELECT ON `performance_schema`.* TO 'mon_role'@'%';",
    ]);
    for (const line of monitor) await root.exec(line.replace(/;$/, '').replace("'change-me'", "'mon-Pw-1'"));

    const r = await dbReport(roleEnv);
    expect(r.source.account).toBe('mon_role@%');
    for (const s of [r.statements, r.indexes.unused, r.indexes.fullScans, r.storage, r.connections, r.errors]) expect(s, JSON.stringify(s).slice(0, 300)).toMatchObject({ available: true });
    if (r.indexes.unused.available) expect(r.indexes.unused.indexes.map((i) => i.index)).toContain('dbops_test_unused');
    if (r.storage.available) expect(r.storage.partitions.filter((p) => p.table === 'pageviews').length).toBeGreaterThanOrEqual(37);
    if (r.connections.available && r.connections.byUser.available) expect(r.connections.byUser.users.map((u) => u.user)).toContain('mon_app');
    // It reads no row of any table.
    await expect(withConnection({ ...server.conn, user: 'mon_role', password: 'mon-Pw-1' }, (db) => db.query('SELECT COUNT(*) FROM horizn.sites'))).rejects.toThrow(/SELECT command denied/);

    const doctor = await runCli(['doctor', '--json'], { ...env, ...roleEnv });
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string; detail: string }> }).checks;
    expect(checks.find((c) => c.id === 'monitor.privileges')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/has exactly what db report and the monitor job \(read only\) need/) });
  });
});

/** Python's parser, strict about the text format. */
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([{"name": f.name, "type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())]))
`;
import { until } from '../helpers/until.js';
type Family = { name: string; type: string; samples: Array<[string, Record<string, string>, number]> };


describe('the daemon', () => {
  it('serves the same values in /metrics, sends the database alerts (a new ERROR in the log too), and declares every metric the Grafana dashboard queries', async () => {
    const report = await dbReport();
    const port = await freePort();
    const proc = startCli(['daemon'], {
      ...env,
      DBOPS_DAEMON_LISTEN: `127.0.0.1:${port}`,
      DBOPS_DAEMON_STATE_FILE: join(dir, 'state.json'),
      DBOPS_DAEMON_SHIP_BINLOGS: 'false',
      DBOPS_SCHEDULE_BACKUP: '0 0 1 1 *',
      DBOPS_SCHEDULE_RESTORE_TEST: '0 0 1 1 *',
      DBOPS_SCHEDULE_PRUNE: '0 0 1 1 *',
      DBOPS_SCHEDULE_PARTITIONS: '0 0 1 1 *',
      DBOPS_SCHEDULE_MONITOR: '*/2 * * * * *',
      DBOPS_ALERTS_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/hook`,
      DBOPS_LOG_LEVEL: 'info',
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const scrape = async (): Promise<Family[]> => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const r = await execa('/usr/bin/python3', ['-c', PARSE], { input: text, reject: false });
        expect(r.exitCode, `prometheus_client could not parse /metrics: ${r.stderr}`).toBe(0);
        return JSON.parse(r.stdout) as Family[];
      };
      // The job hands its report to /metrics before it returns, and its outcome is recorded
      // after: a scrape between the two has the look but not yet the job's last run.
      const families = await until("a database look and the monitor job's outcome in /metrics", async () => {
        const f = await scrape();
        const looked = f.find((x) => x.name === 'dbops_db_report_timestamp_seconds')?.samples.length;
        const finished = f.find((x) => x.name === 'dbops_job_last_run_ok')?.samples.some(([, l]) => l.job === 'monitor');
        return looked && finished ? f : undefined;
      }, 60_000, () => stderr.slice(-2000));
      const byName = new Map(families.map((f) => [f.name, f]));
      const samples = families.flatMap((f) => f.samples);
      const sample = (name: string, labels: Record<string, string> = {}): number | undefined => samples.find(([n, l]) => n === name && Object.entries(labels).every(([k, v]) => l[k] === v))?.[2];

      if (!report.statements.available || !report.storage.available || !report.connections.available) throw new Error('report sections missing');
      const load = report.statements.statements.find((s) => /GROUP BY `page_path`/.test(s.text))!;
      expect(sample('dbops_db_statement_calls_total', { digest: load.digest })).toBe(load.calls);
      expect(sample('dbops_db_statement_rows_sent_total', { digest: load.digest })).toBe(load.rowsSent);
      expect(byName.get('dbops_db_statement_p95_seconds')!.samples).toEqual([]);
      expect(sample('dbops_db_index_unused', { schema: 'horizn', table: 'pageviews', index: 'dbops_test_unused' })).toBe(1);
      expect(sample('dbops_db_index_redundant', { table: 'events', index: 'dbops_test_redundant', covered_by: 'events_site_name_time' })).toBe(1);
      for (const p of report.storage.partitions.filter((x) => x.table === 'pageviews')) {
        expect(sample('dbops_db_partition_data_bytes', { schema: 'horizn', table: 'pageviews', partition: p.partition }), p.partition).toBe(p.dataBytes);
        expect(sample('dbops_db_partition_index_bytes', { schema: 'horizn', table: 'pageviews', partition: p.partition }), p.partition).toBe(p.indexBytes);
      }
      expect(sample('dbops_db_catchall_partition_rows', { table: 'pageviews' })).toBe(5);
      expect(sample('dbops_db_partition_days_ahead', { table: 'pageviews' })).toBe(7);
      expect(sample('dbops_db_size_bytes')).toBe(report.storage.totalBytes);
      expect(sample('dbops_db_max_connections')).toBe(report.connections.max);
      expect(sample('dbops_db_user_connections', { user: 'mon_app' })).toBe(3);
      expect(sample('dbops_db_section_available', { section: 'error_log' })).toBe(1);
      expect(sample('dbops_job_last_run_ok', { job: 'monitor' })).toBe(1);

      // Every metric the dashboard queries is declared by a real daemon.
      const dashboard = await readFile(join(REPO_ROOT, 'docker/grafana-dashboard.json'), 'utf8');
      const queried = new Set<string>();
      for (const p of (JSON.parse(dashboard) as { panels: Array<{ targets?: Array<{ expr: string }> }> }).panels) for (const t of p.targets ?? []) for (const m of t.expr.matchAll(/\bdbops_[a-z0-9_]+/g)) queried.add(m[0]);
      expect(queried.size).toBeGreaterThan(30);
      // prometheus_client names a counter family without its _total suffix.
      const declared = new Set(families.flatMap((f) => [f.name, `${f.name}_total`]));
      expect([...queried].filter((m) => !declared.has(m))).toEqual([]);

      await until('the catch-all alert', async () => (hooks.some((h) => h.key === 'db:catch-all:horizn.pageviews' && h.status === 'firing') ? true : undefined), 30_000);
      // A real ERROR in the server's log after the daemon's first look: a failing event.
      await root.exec('SET GLOBAL event_scheduler = ON');
      await root.exec('CREATE DATABASE mon_evt');
      await root.exec('CREATE EVENT mon_evt.boom ON SCHEDULE AT CURRENT_TIMESTAMP DO INSERT INTO mon_evt.missing VALUES (1)');
      const alert = await until('the error-log alert', async () => hooks.find((h) => h.key === 'db:error-log' && h.status === 'firing'), 60_000, () => JSON.stringify(hooks));
      expect(alert.message).toMatch(/1 new ERROR entry in the server error log, e\.g\. .*Table 'mon_evt\.missing' doesn't exist/);
      // Seen once: the next look finds nothing new and the alert resolves.
      await until('the error-log alert to resolve', async () => (hooks.some((h) => h.key === 'db:error-log' && h.status === 'resolved') ? true : undefined), 30_000);
      const errors = (await dbReport()).errors;
      expect(errors).toMatchObject({ available: true, since: { lookedAt: expect.any(String) } });
    } finally {
      proc.kill('SIGTERM');
      const r = await proc;
      expect(r.exitCode, stderr.slice(-2000)).toBe(0);
    }
  });
});

describe('with performance_schema off (the shared server)', () => {
  it('statements come from mysql.slow_log when it is a table, with p95 over the logged executions; unused indexes say why they cannot be known', async () => {
    const { conn, url } = mariadb();
    await withConnection(conn, async (db) => {
      await db.exec('SET SESSION sql_log_bin = 0');
      await db.exec('DROP DATABASE IF EXISTS mon_slow');
      await db.exec('CREATE DATABASE mon_slow');
      await db.exec('CREATE TABLE mon_slow.t (id INT PRIMARY KEY, v INT, KEY v_idx (v))');
      await db.exec('INSERT INTO mon_slow.t SELECT seq, seq % 7 FROM mon_slow.seq_1_to_2000');
    });
    const globals = await withConnection(conn, (db) => db.query<{ o: string; s: number }>('SELECT @@global.log_output AS o, @@global.slow_query_log AS s'));
    try {
      await withConnection(conn, async (db) => {
        await db.exec("SET GLOBAL log_output = 'FILE,TABLE'");
        await db.exec('SET GLOBAL slow_query_log = 1');
      });
      // A session started after the change; only it logs everything (others keep long_query_time).
      await withConnection(conn, async (db) => {
        await db.exec('SET SESSION long_query_time = 0');
        for (let i = 0; i < 25; i++) await db.query('SELECT v, COUNT(*) FROM mon_slow.t WHERE id > ? GROUP BY v', [i]);
      });
      const r = JSON.parse(await cli(['db', 'report', '--json'], { DBOPS_SOURCE_URL: url, DBOPS_SOURCE_DATABASES: 'mon_slow', DBOPS_STORAGE_URL: '' })) as DbReport;
      expect(r.source.performanceSchema).toBe(false);
      expect(r.statements).toMatchObject({ available: true, source: 'slow_log' });
      if (!r.statements.available) return;
      const s = r.statements.statements.find((x) => x.text === 'SELECT v, COUNT(*) FROM mon_slow.t WHERE id > ? GROUP BY v')!;
      expect(s, r.statements.statements.map((x) => x.text).join('\n')).toBeDefined();
      expect(s.calls).toBeGreaterThanOrEqual(25);
      expect(s.p95Seconds).not.toBeNull();
      expect(s.p95Seconds!).toBeLessThanOrEqual(s.maxSeconds!);
      expect(r.indexes.unused).toMatchObject({ available: false, reason: expect.stringMatching(/performance_schema is off \(MariaDB's default\) and userstat is off/) });
      expect(r.storage.available && r.storage.growth.notes.join()).toMatch(/no repository configured/);
    } finally {
      await withConnection(conn, async (db) => {
        await db.exec(`SET GLOBAL log_output = '${globals[0]!.o}'`);
        await db.exec(`SET GLOBAL slow_query_log = ${Number(globals[0]!.s)}`);
        await db.exec('SET SESSION sql_log_bin = 0');
        await db.exec('TRUNCATE TABLE mysql.slow_log');
        await db.exec('DROP DATABASE IF EXISTS mon_slow');
      });
    }
  });
});
