// The benchmark's source database: a throwaway MariaDB (binary log on, so the dump
// records its consistent point like a real backup does) holding the horizn_ schema
// seeded to the requested size. Seeding 1 GB takes minutes, so `--reuse DIR` keeps the
// seeded datadir in DIR and later runs start a server on it directly.
import mysql from 'mysql2/promise';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { startSandboxServer, findServerBinary } from '../../src/sandbox/process-server.js';
import { register, unregister, type Disposable } from '../../src/sandbox/cleanup-registry.js';
import { freePort } from '../../src/sandbox/free-port.js';
import { formatConnectionUrl, type MysqlConn } from '../../src/mysql/connection-url.js';
import { up } from '../../src/migrate/index.js';
import { seed } from '../../src/seed/index.js';

export const DATABASE = 'horizn';

export interface Dataset {
  url: string;
  conn: MysqlConn;
  serverPid: number;
  version: string;
  /** Where the server writes its binlogs (`binlog.NNNNNN`); the binlog group replays them by hand. */
  binlogDir: string;
  /** Seed target and what the seed produced (from this run or the run that made --reuse DIR). */
  sizeBytes: number;
  dataBytes: number;
  indexBytes: number;
  rows: Record<string, number>;
  seedSeconds: number;
  reused: boolean;
  stop(): Promise<void>;
}

interface SeedInfo {
  sizeBytes: number;
  dataBytes: number;
  indexBytes: number;
  rows: Record<string, number>;
  seedSeconds: number;
}

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Creates the schema and seeds it, printing progress; the binlog is skipped for the load itself. */
async function createAndSeed(url: string, sizeBytes: number): Promise<SeedInfo> {
  const conn = await mysql.createConnection({ uri: url });
  try {
    await conn.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await conn.changeUser({ database: DATABASE });
    await up(conn);
    // The rows need not be in the binary log (nothing replays them), and writing ~size of
    // row events would slow the seed and fill the disk; log_bin itself stays on.
    await conn.query('SET SESSION sql_log_bin = 0');
    const t0 = performance.now();
    let last = 0;
    const r = await seed(conn, {
      sizeBytes,
      seed: 'bench',
      onProgress: (p) => {
        const now = performance.now();
        if (now - last < 3000) return;
        last = now;
        const s = (now - t0) / 1000;
        // The text sent runs ~1.2–1.5× the resulting data_length, so this is an estimate.
        const mb = p.bytesSent / 1e6;
        say(`  seeding: ${mb.toFixed(0)} MB of rows sent in ${s.toFixed(0)} s (${(mb / s).toFixed(1)} MB/s), target ~${(sizeBytes / 1e6).toFixed(0)} MB of table data`);
      },
    });
    return { sizeBytes, dataBytes: r.dataBytes, indexBytes: r.indexBytes, rows: r.rows, seedSeconds: r.totalSeconds };
  } finally {
    await conn.end();
  }
}

/** A throwaway server with a freshly seeded database, removed by stop(). */
async function freshDataset(sizeBytes: number): Promise<Dataset> {
  const server = await startSandboxServer({ binlog: true });
  try {
    say(`  MariaDB ${server.version} on 127.0.0.1:${server.port} (${server.baseDir})`);
    const info = await createAndSeed(server.url, sizeBytes);
    return { url: server.url, conn: server.conn, serverPid: server.pid, version: server.version, binlogDir: server.binlogDir, ...info, reused: false, stop: () => server.stop() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

interface SavedDataset extends SeedInfo {
  format: 'dbops-bench-dataset';
  /** Root password of this throwaway datadir (the file is 0600). */
  password: string;
}

function datasetFile(dir: string): string {
  return join(dir, 'dataset.json');
}

/** Seed once in a sandbox, shut it down cleanly, and move its datadir into `dir`. */
async function buildReusable(dir: string, sizeBytes: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const leftovers = (await readdir(dir)).filter((f) => !f.startsWith('.'));
  if (leftovers.length) throw new Error(`--reuse ${dir} is not empty and holds no dataset.json; give an empty or new directory`);
  // The seed rebuilds the secondary indexes and the aggregates over everything it loaded, which
  // a 32 MB buffer pool turns into rereading the tables from disk over and over (figures in the
  // bench README). Only the seed gets the large pool: the measurements run on a server of their own.
  const server = await startSandboxServer({ binlog: true, parentDir: dir, extraArgs: ['--innodb-buffer-pool-size=2G'] });
  try {
    say(`  MariaDB ${server.version} on 127.0.0.1:${server.port}; the datadir will be kept in ${dir}`);
    const info = await createAndSeed(server.url, sizeBytes);
    const conn = await mysql.createConnection({ uri: server.url });
    await conn.query('SET GLOBAL innodb_fast_shutdown = 0');
    await conn.query('SHUTDOWN').catch(() => undefined);
    await conn.end().catch(() => undefined);
    for (let i = 0; i < 600 && existsSync(join(server.baseDir, 'mysqld.pid')); i++) await new Promise((r) => setTimeout(r, 100));
    await rename(server.datadir, join(dir, 'data'));
    // The seed skipped the binlog; a fresh one starts with the reused server.
    await mkdir(join(dir, 'binlog'));
    const saved: SavedDataset = { format: 'dbops-bench-dataset', ...info, password: server.conn.password };
    await writeFile(datasetFile(dir), `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  } finally {
    await server.stop();
  }
}

function waitExit(sub: ResultPromise, ms: number): Promise<boolean> {
  return new Promise((done) => {
    const t = setTimeout(() => done(false), ms);
    void sub.then(
      () => (clearTimeout(t), done(true)),
      () => (clearTimeout(t), done(true)),
    );
  });
}

/** Start a server on `dir`/data with the same settings as the sandbox (see process-server.ts). */
async function startOnDir(dir: string, saved: SavedDataset): Promise<Dataset> {
  const bin = await findServerBinary();
  const run = await mkdtemp(join(tmpdir(), 'dbops-bench-run-'));
  await mkdir(join(run, 'tmp'));
  const entry: Disposable = { pid: undefined, dir: run };
  register(entry);
  const port = await freePort();
  const sub = execa(
    bin.path,
    [
      '--no-defaults',
      `--datadir=${join(dir, 'data')}`,
      `--socket=${join(run, 'mysqld.sock')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(run, 'mysqld.pid')}`,
      `--log-error=${join(run, 'error.log')}`,
      `--tmpdir=${join(run, 'tmp')}`,
      `--server-id=${randomInt(1000, 999_999)}`,
      '--skip-name-resolve',
      '--performance-schema=OFF',
      '--innodb-doublewrite=OFF',
      '--innodb-flush-log-at-trx-commit=2',
      '--sync-binlog=0',
      '--innodb-buffer-pool-size=32M',
      '--innodb-use-native-aio=0',
      '--innodb-log-file-size=16M',
      ...(process.getuid?.() === 0 ? [`--user=${userInfo().username}`] : []),
      `--log-bin=${join(dir, 'binlog', 'binlog')}`,
      '--binlog-format=ROW',
    ],
    { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', reject: false, cleanup: true },
  );
  entry.pid = sub.pid;
  const conn: MysqlConn = { user: 'root', password: saved.password, host: '127.0.0.1', port };
  const url = formatConnectionUrl(conn);
  let exited = false;
  void sub.then(() => (exited = true));
  const stop = async (): Promise<void> => {
    sub.kill('SIGTERM');
    if (!(await waitExit(sub, 60_000))) {
      sub.kill('SIGKILL');
      await waitExit(sub, 10_000);
    }
    await rm(run, { recursive: true, force: true });
    unregister(entry);
  };
  const deadline = Date.now() + 120_000;
  while (!exited && Date.now() < deadline) {
    try {
      const c = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
      await c.end();
      return { url, conn, serverPid: sub.pid!, version: String(rows[0]?.v), binlogDir: join(dir, 'binlog'), ...saved, reused: true, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const log = await readFile(join(run, 'error.log'), 'utf8').catch(() => '');
  await stop();
  throw new Error(`the server on ${dir}/data did not start: ${log.trim().split('\n').slice(-3).join(' | ')}`);
}

/** The dataset for this run: fresh (removed at stop) or kept in `reuseDir`. */
export async function prepareDataset(sizeBytes: number, reuseDir?: string): Promise<Dataset> {
  if (!reuseDir) return freshDataset(sizeBytes);
  const dir = resolve(reuseDir);
  if (!existsSync(datasetFile(dir))) {
    say(`  no dataset in ${dir} yet: seeding one (kept for later runs with --reuse ${reuseDir})`);
    await buildReusable(dir, sizeBytes);
  }
  const saved = JSON.parse(await readFile(datasetFile(dir), 'utf8')) as SavedDataset;
  if (saved.format !== 'dbops-bench-dataset') throw new Error(`${datasetFile(dir)} is not a bench dataset file`);
  if (saved.sizeBytes !== sizeBytes) {
    throw new Error(`--reuse ${reuseDir} holds a ${(saved.sizeBytes / 1e6).toFixed(0)} MB dataset, not ${(sizeBytes / 1e6).toFixed(0)} MB; pass that --size or another directory`);
  }
  say(`  reusing the ${(saved.sizeBytes / 1e6).toFixed(0)} MB dataset in ${dir}`);
  return startOnDir(dir, saved);
}
