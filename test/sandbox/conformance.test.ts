// One behaviour suite for every sandbox driver (as test/storage/conformance.test.ts is for
// storage): the local process and the container (podman here) must both start a throwaway
// server of the same Sandbox shape, take a restore of a real backup and a binlog replay to
// a point, run two at once without touching each other, and leave nothing behind on
// stop/kill and when their owner is ended by SIGTERM. The container driver is skipped only
// off CI when no engine works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { startSandbox, containerEngineStatus, findContainerEngine, type ContainerSandbox, type Sandbox, type SandboxServer } from '../../src/sandbox/index.js';
import { startSandboxServer } from '../../src/sandbox/process-server.js';
import { liveCount } from '../../src/sandbox/cleanup-registry.js';
import { withConnection, MysqlClient } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { runRestore } from '../../src/restore/run-restore.js';
import { replayTo } from '../../src/pitr/run-pitr.js';
import type { BackupManifest } from '../../src/manifest/backup-manifest.js';
import { runCli, makeKeys } from '../helpers/cli.js';
import { shipSetup, type ShipSetup } from '../helpers/binlog-ship.js';
import { mariadb } from '../helpers/mariadb.js';

const engine = await containerEngineStatus();
const noContainers = !engine.usable && !process.env.CI;

function portListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function processGone(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*?\)/, ''));
  } catch {
    return true;
  }
}

async function containerExists(name: string): Promise<boolean> {
  const r = await execa(findContainerEngine().path, ['ps', '--all', '--filter', `name=^${name}$`, '--format', '{{.Names}}'], { reject: false });
  return r.stdout.trim() !== '';
}

/** Where a sandbox lives, as the teardown checks need it: its port and its driver's own traces. */
interface Traces {
  port: number;
  pid?: number;
  dir?: string;
  name?: string;
}

interface Driver {
  name: 'process' | 'container';
  skip: boolean;
  traces(s: Sandbox): Traces;
}

const drivers: Driver[] = [
  { name: 'process', skip: false, traces: (s) => ({ port: s.port, pid: (s as SandboxServer).pid, dir: (s as SandboxServer).baseDir }) },
  { name: 'container', skip: noContainers, traces: (s) => ({ port: s.port, name: (s as ContainerSandbox).containerName }) },
];

/** Nothing of it left: no listening port, no process, no temp dir, no container. */
async function expectGone(t: Traces): Promise<void> {
  expect(await portListening(t.port), `port ${t.port}`).toBe(false);
  if (t.pid !== undefined) await expect.poll(() => processGone(t.pid!), { timeout: 5000 }).toBe(true);
  if (t.dir !== undefined) expect(existsSync(t.dir), t.dir).toBe(false);
  if (t.name !== undefined) expect(await containerExists(t.name), t.name).toBe(false);
}

// The fixture every driver restores: a backup of a small source, then writes only binlog
// replay can bring back, shipped.
let source: SandboxServer;
let ship: ShipSetup;
let manifest: BackupManifest;
let point: { binlogFile: string; binlogPosition: number };

beforeAll(async () => {
  const [server, keys] = await Promise.all([startSandboxServer({ binlog: true }), makeKeys()]);
  source = server;
  const db = await MysqlClient.connect(source.conn);
  await db.exec('CREATE DATABASE conf');
  await db.exec("CREATE TABLE conf.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20), KEY (v))");
  await db.exec("INSERT INTO conf.t (v) VALUES ('a'), ('b'), ('c')");
  ship = await shipSetup(source.url, keys, { DBOPS_SOURCE_DATABASES: 'conf' });
  const b = await runCli(['backup'], ship.env);
  expect(b.exitCode, b.stderr).toBe(0);
  manifest = await ship.repo.backups.read(b.stdout.trim());
  for (let i = 0; i < 5; i++) await db.exec('INSERT INTO conf.t (v) VALUES (?)', [`after-${i}`]);
  const [status] = await db.query<{ File: string; Position: number }>('SHOW MASTER STATUS');
  point = { binlogFile: status!.File, binlogPosition: Number(status!.Position) };
  await db.exec("INSERT INTO conf.t (v) VALUES ('past the point')");
  await db.close();
  const shipped = await runCli(['binlog', 'ship', '--once'], ship.env);
  expect(shipped.exitCode, shipped.stderr).toBe(0);
});

afterAll(async () => {
  await source?.stop();
});

const rows = (s: Sandbox): Promise<number> => withConnection(s.conn, async (db) => Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM conf.t'))[0]!.n));

describe.each(drivers)('$name sandbox', (driver) => {
  const start = (): Promise<Sandbox> => startSandbox({ driver: driver.name, binlog: false });
  let sandbox: Sandbox | undefined;

  beforeAll(async () => {
    if (!driver.skip) sandbox = await start();
  });
  afterAll(async () => {
    await sandbox?.kill();
  });

  it.skipIf(driver.skip)('starts a server of the one Sandbox shape, on its own loopback port, behind a random password', async () => {
    const s = sandbox!;
    expect(s.driver).toBe(driver.name);
    expect(s.flavor).toBe('mariadb');
    expect([3306, mariadb().port]).not.toContain(s.port);
    expect(s.url).toBe(`mysql://root:${s.conn.password}@127.0.0.1:${s.port}`);
    expect(s.conn.password).toMatch(/^[0-9a-f]{36}$/);
    const d = s.describe();
    expect(d.driver).toBe(driver.name);
    expect(d.serverVersion).toBe(s.version);
    expect(d.engine).toBeTruthy();
    const [row] = await withConnection(parseConnectionUrl(s.url), (db) => db.query<{ v: string; logBin: number }>('SELECT VERSION() AS v, @@log_bin AS logBin'));
    expect(row).toEqual({ v: s.version, logBin: 0 });
    await expect(withConnection({ ...s.conn, password: '' }, (db) => db.query('SELECT 1'))).rejects.toThrow(/Access denied/);
  });

  it.skipIf(driver.skip)('takes the restore of a backup', async () => {
    await runRestore({ repo: ship.repo, manifest, target: sandbox!.conn, identityFile: ship.env.DBOPS_AGE_IDENTITY_FILE! });
    expect(await rows(sandbox!)).toBe(3);
  });

  it.skipIf(driver.skip)('takes a binlog replay to a point', async () => {
    const { plan } = await replayTo({ repo: ship.repo, identityFile: ship.env.DBOPS_AGE_IDENTITY_FILE!, baseId: manifest.id, sourceId: manifest.source.serverUuid, to: point, conn: sandbox!.conn });
    expect(plan.reached.file).toBe(point.binlogFile);
    expect(await rows(sandbox!)).toBe(8);
  });

  it.skipIf(driver.skip)('stops and kills cleanly, leaving nothing behind, idempotently', async () => {
    const a = sandbox!;
    const registered = liveCount(); // a and the fixture's source
    const b = await start();
    const ta = driver.traces(a);
    const tb = driver.traces(b);
    await a.stop();
    await b.kill();
    sandbox = undefined;
    await expectGone(ta);
    await expectGone(tb);
    await a.stop();
    await b.kill();
    expect(liveCount()).toBe(registered - 1);
  });

  it.skipIf(driver.skip)('runs two at once, each its own server', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const traces = [driver.traces(a), driver.traces(b)];
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.conn.password).not.toBe(b.conn.password);
      await withConnection(a.conn, async (db) => {
        await db.exec('CREATE DATABASE only_a');
        await db.exec('CREATE TABLE only_a.x (id INT PRIMARY KEY)');
      });
      await expect(withConnection(b.conn, (db) => db.query('SELECT * FROM only_a.x'))).rejects.toThrow(/Unknown database|doesn't exist/);
      await expect(withConnection(b.conn, (db) => db.query('SELECT 1 AS one'))).resolves.toEqual([{ one: 1 }]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    for (const t of traces) await expectGone(t);
  });

  it.skipIf(driver.skip)('is removed when its owning process gets SIGTERM', async () => {
    const child = join(import.meta.dirname, 'helpers', 'sandbox-child.ts');
    const r = await execa('node', ['--import', 'tsx', child, driver.name, 'SIGTERM'], { reject: false, timeout: 120_000 });
    expect(r.timedOut, 'child hung instead of exiting').toBe(false);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, r.stderr).toBeDefined();
    expect(r.signal).toBe('SIGTERM');
    await expectGone(JSON.parse(line!) as Traces);
  });
});
