// Point-in-time recovery against real MariaDB servers: a source of its own (binlog MIXED,
// so temporary tables are logged) under a write workload, shipped in-process, and a fresh
// target per recovery. The drills: DROP TABLE and DELETE without WHERE found with
// `binlog find` and recovered with `pitr --before`; --to TIME / --to-gtid / --to-position
// landing exactly; a temporary table across a binlog rotation; a purged binlog (gap);
// bad input refused with exit 2 and nothing written.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey, type SigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { tableContentChecksum } from '../../src/verify/content-checksum.js';
import { runPitr } from '../../src/pitr/run-pitr.js';
import { findEvents } from '../../src/pitr/binlog-find.js';
import type { PitrTarget } from '../../src/pitr/target-spec.js';
import { UsageError } from '../../src/errors.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';

const DB = 'shop';
let source: SandboxServer;
let target: SandboxServer;
let db: MysqlClient;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: Repository;
let env: Record<string, string>;
let signingKey: SigningKey;
let recipients: string[];
let spool: string;
let sourceId = '';

beforeAll(async () => {
  [source, target, keys] = await Promise.all([
    startSandboxServer({ binlog: true, serverId: 7, extraArgs: ['--binlog-format=MIXED'] }),
    startSandboxServer({ binlog: false }),
    makeKeys(),
  ]);
  db = await MysqlClient.connect(source.conn);
  await db.exec(`CREATE DATABASE ${DB}`);
  await db.exec(`CREATE TABLE ${DB}.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, amount DECIMAL(10,2), note VARCHAR(64))`);
  await db.exec(`CREATE TABLE ${DB}.items (id INT PRIMARY KEY, stock INT NOT NULL)`);
  await db.exec(`CREATE TABLE ${DB}.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(64))`);
  for (let i = 1; i <= 20; i++) await db.exec(`INSERT INTO ${DB}.items VALUES (?, 100)`, [i]);
  const r = await tempRepoUrl();
  spool = await mkdtemp(join(tmpdir(), 'dbops-pitr-spool-'));
  signingKey = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  const storage = await openStorage(r.url);
  await initRepository(storage, signingKey, recipients);
  repo = await openRepository(storage, { signer: signingKey });
  env = { ...keys.env, DBOPS_STORAGE_URL: r.url, DBOPS_RESTORE_TARGET_URL: target.url };
}, 120_000);

afterAll(async () => {
  await db?.close();
  await Promise.all([source?.stop(), target?.stop()]);
  if (spool) await rm(spool, { recursive: true, force: true });
});

/** Writes from their own connection until paused: new orders, stock changes, audit rows. */
class Workload {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private conn: MysqlClient | undefined;
  n = 0;

  async start(sessionFormat: 'ROW' | 'MIXED' = 'ROW'): Promise<void> {
    this.conn ??= await MysqlClient.connect(source.conn);
    await this.conn.exec(`SET SESSION binlog_format = ${sessionFormat}`);
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const i = ++this.n;
        await this.conn!.exec(`INSERT INTO ${DB}.orders (customer, amount, note) VALUES (?, ?, ?)`, [i % 7, (i * 3.17).toFixed(2), `order ${i}`]);
        const items = await this.conn!.query<{ n: number }>(`SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'items'`, [DB]);
        if (Number(items[0]!.n) > 0) await this.conn!.exec(`UPDATE ${DB}.items SET stock = stock - 1 WHERE id = ?`, [(i % 20) + 1]);
        await this.conn!.exec(`INSERT INTO ${DB}.audit (what) VALUES (?)`, [`tick ${i}`]);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  }

  async pause(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async close(): Promise<void> {
    await this.pause();
    await this.conn?.close();
  }
}

async function ship(): Promise<void> {
  const r = await shipBinlogs({ repo, source: source.conn, recipients, compressionLevel: 3, compressionThreads: 1, spoolRoot: spool, maxLagSeconds: 60, once: true });
  sourceId = r.serverUuid;
}

async function backup(): Promise<string> {
  const m = await runBackup({ repo, source: source.conn, recipients, databases: [DB], compressionLevel: 3, compressionThreads: 1, includeAccounts: false });
  return m.id;
}

async function checksums(conn: SandboxServer['conn'], dbName = DB): Promise<Record<string, string>> {
  return withConnection(conn, async (c) => {
    const tables = await c.query<{ t: string }>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [dbName]);
    const out: Record<string, string> = {};
    for (const { t } of tables) {
      const s = await tableContentChecksum(c.raw, dbName, t);
      out[t] = `${s.rows}:${s.checksum}`;
    }
    return out;
  });
}

async function emptyTarget(): Promise<void> {
  await withConnection(target.conn, async (c) => {
    for (const d of await c.listUserDatabases()) await c.exec(`DROP DATABASE \`${d}\``);
  });
}

async function pitrInto(t: PitrTarget, extra: Partial<Parameters<typeof runPitr>[0]> = {}): Promise<Awaited<ReturnType<typeof runPitr>>> {
  await emptyTarget();
  return runPitr({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: t, conn: target.conn, ...extra });
}

async function gtidPos(): Promise<string> {
  return (await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]!.g;
}

async function binlogStatus(): Promise<{ file: string; pos: number }> {
  const row = (await db.query<{ File: string; Position: number }>('SHOW BINLOG STATUS'))[0]!;
  return { file: row.File, pos: Number(row.Position) };
}

describe('pitr drills', () => {
  let baseId = '';
  let beforeDrop: Record<string, string> = {};

  it('DROP TABLE: binlog find names it, pitr --before (CLI) recovers every table as it was just before', async () => {
    const w = new Workload();
    await w.start();
    await new Promise((r) => setTimeout(r, 700));
    baseId = await backup(); // a full backup while writes run
    await new Promise((r) => setTimeout(r, 700));
    await w.pause();
    beforeDrop = await checksums(source.conn);
    await db.exec(`DROP TABLE ${DB}.items`);
    await w.start();
    await new Promise((r) => setTimeout(r, 400));
    await w.close();
    await ship();

    const find = await runCli(['binlog', 'find', '--type', 'ddl', '--grep', 'drop\\s+table', '--json'], env);
    expect(find.exitCode, find.stderr).toBe(0);
    const found = JSON.parse(find.stdout) as { matches: Array<{ file: string; position: number; gtid: string; operations: Array<{ type: string; table: string; statement: string }> }> };
    expect(found.matches).toHaveLength(1);
    const drop = found.matches[0]!;
    expect(drop.operations[0]).toMatchObject({ type: 'ddl', table: `${DB}.items` });
    expect(drop.operations[0]!.statement).toMatch(/DROP TABLE/i);
    expect(drop.gtid).toMatch(/^0-7-\d+$/);

    const dry = await runCli(['pitr', '--before', `${drop.file}:${drop.position}`, '--dry-run', '--json'], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout).plan;
    expect(plan.base.id).toBe(baseId);
    expect(plan.stop).toEqual({ file: drop.file, position: drop.position });
    expect(await withConnection(target.conn, (c) => c.listUserDatabases())).toEqual([]); // dry run touched nothing

    const r = await runCli(['pitr', '--before', `${drop.file}:${drop.position}`, '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { reached: { file: string; position: number; gtidSet: string }; phases: Record<string, number> };
    expect(out.reached).toMatchObject({ file: drop.file, position: drop.position });
    expect(Object.keys(out.phases)).toEqual(expect.arrayContaining(['plan', 'restore', 'fetch', 'replay']));
    expect(await checksums(target.conn)).toEqual(beforeDrop);
    // The reached GTID state is the one just before the DROP.
    const [d, s, n] = drop.gtid.split('-');
    expect(out.reached.gtidSet).toBe(`${d}-${s}-${Number(n) - 1}`);
  }, 120_000);

  it('DELETE without WHERE (row format): found with its row count, recovered with --before', async () => {
    const w = new Workload();
    await w.start('ROW');
    await new Promise((r) => setTimeout(r, 500));
    await w.pause();
    const before = await checksums(source.conn);
    const rows = Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${DB}.orders`))[0]!.n);
    await db.exec('SET SESSION binlog_format = ROW');
    await db.exec(`DELETE FROM ${DB}.orders`);
    await w.start('ROW');
    await new Promise((r) => setTimeout(r, 300));
    await w.close();
    await ship();

    const found = await findEvents({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, table: `${DB}.orders`, type: 'delete' });
    expect(found.matches).toHaveLength(1);
    const del = found.matches[0]!;
    expect(del.operations[0]).toMatchObject({ type: 'delete', table: `${DB}.orders`, rows });
    expect(del.operations[0]!.statement).toMatch(/DELETE FROM shop\.orders/);

    const r = await pitrInto({ kind: 'before', file: del.file, position: del.position });
    expect(r.reached).toMatchObject({ file: del.file, position: del.position });
    expect(await checksums(target.conn)).toEqual(before);
  }, 90_000);

  it('--to TIME, --to-gtid and --to-position land on the last transaction at or before the target', async () => {
    const mark = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) await db.exec(`INSERT INTO ${DB}.audit (what) VALUES ('batch')`);
    };
    await mark();
    const atA = await checksums(source.conn);
    const gtidA = await gtidPos();
    const posA = await binlogStatus();
    // Next whole second: every batch-A commit is at or before T, every batch-B commit after it.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 1);
    await new Promise((r) => setTimeout(r, 1000));
    await db.exec(`INSERT INTO ${DB}.audit (what) VALUES ('after T')`);
    await db.exec(`UPDATE ${DB}.audit SET what = 'changed after T' WHERE what = 'batch' LIMIT 1`);
    await ship();

    const byTime = await pitrInto({ kind: 'time', time: T, text: T.toISOString() });
    expect(byTime.reached!.gtidSet).toBe(gtidA);
    expect(await checksums(target.conn)).toEqual(atA);

    const byGtid = await pitrInto({ kind: 'gtid', text: gtidA });
    expect(byGtid.reached!.gtidSet).toBe(gtidA);
    expect(await checksums(target.conn)).toEqual(atA);

    const byPos = await pitrInto({ kind: 'position', file: posA.file, position: posA.pos });
    expect(byPos.reached).toMatchObject({ file: posA.file, position: posA.pos, gtidSet: gtidA });
    expect(await checksums(target.conn)).toEqual(atA);
  }, 90_000);

  it('a temporary table spanning a binlog rotation replays in one session (--to latest)', async () => {
    await db.exec('SET SESSION binlog_format = MIXED');
    await db.exec(`CREATE TEMPORARY TABLE ${DB}.staging (customer INT, amount DECIMAL(10,2))`);
    await db.exec(`INSERT INTO ${DB}.staging VALUES (901, 1.50), (902, 2.50), (903, 3.50)`);
    await db.exec('FLUSH BINARY LOGS');
    await db.exec(`INSERT INTO ${DB}.orders (customer, amount, note) SELECT customer, amount, 'from staging' FROM ${DB}.staging`);
    await db.exec(`DROP TEMPORARY TABLE ${DB}.staging`);
    const now = await checksums(source.conn);
    await ship();
    const r = await pitrInto({ kind: 'latest' });
    expect(r.plan.chain.length).toBeGreaterThan(2);
    const got = await withConnection(target.conn, (c) => c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${DB}.orders WHERE note = 'from staging'`));
    expect(Number(got[0]!.n)).toBe(3);
    expect(await checksums(target.conn)).toEqual(now);
  }, 90_000);

  it('--table with --into-schema recovers one table side by side', async () => {
    const last = (await repo.binlogs.segments(sourceId)).segments.at(-1)!;
    const r = await pitrInto({ kind: 'position', file: last.file, position: last.endPosition }, { scope: { table: `${DB}.audit`, intoSchema: 'rescue' } });
    expect(r.plan.scope).toEqual({ table: `${DB}.audit`, intoSchema: 'rescue' });
    const src = await checksums(source.conn);
    const got = await checksums(target.conn, 'rescue');
    expect(got).toEqual({ audit: src.audit });
    expect(await withConnection(target.conn, (c) => c.listUserDatabases())).toEqual(['rescue']);
  }, 60_000);

  it('bad input: one-line error, exit 2, nothing written to the target', async () => {
    await emptyTarget();
    const cases: Array<[string[], RegExp]> = [
      [['--to', '2026-11-27T14:02:59'], /has no time zone: add one/],
      [['--before', 'binlog.999999:4'], /binlog binlog\.999999 is not in the repository/],
      [['--to-gtid', '0-7-abc'], /--to-gtid "0-7-abc" is not valid/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['pitr', ...args], env)));
    results.forEach((r, i) => {
      expect(r.exitCode, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(cases[i]![1]);
    });
    const identityFile = keys.env.DBOPS_AGE_IDENTITY_FILE!;
    const { file } = await binlogStatus();
    const shipped = (r: Repository, source: string) => r.binlogs.segments(source);
    const last = (await shipped(repo, sourceId)).segments.at(-1)!;
    const bad: Array<[PitrTarget, RegExp]> = [
      [{ kind: 'position', file: last.file, position: last.endPosition + 10 }, /past the end of/],
      [{ kind: 'before', file: last.file, position: 5 }, /not the start of an event/],
      [{ kind: 'time', time: new Date(Date.now() + 3_600_000), text: 'future' }, /in the future/],
      [{ kind: 'time', time: new Date(Date.now() - 86_400_000), text: 'yesterday' }, /before the oldest shipped binlog|before the oldest backup/],
      [{ kind: 'gtid', text: '0-7-999999' }, /not in the shipped binlogs/],
    ];
    for (const [t, msg] of bad) {
      const err = await runPitr({ repo, identityFile, target: t, conn: target.conn }).catch((e: unknown) => e);
      expect(err, JSON.stringify(t)).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    }
    expect(file).toBeTruthy();
    expect(await withConnection(target.conn, (c) => c.listUserDatabases())).toEqual([]);
  }, 60_000);

  it('a binlog purged before shipping: pitr across it refuses naming the file; a point before it still works', async () => {
    await ship();
    const lastShipped = (await repo.binlogs.segments(sourceId)).segments.at(-1)!;
    const atBefore = await checksums(source.conn);
    const lost = (await binlogStatus()).file; // the active file: it will be purged unshipped
    for (let i = 0; i < 2; i++) {
      await db.exec(`INSERT INTO ${DB}.audit (what) VALUES ('lost')`);
      await db.exec('FLUSH BINARY LOGS');
    }
    const current = (await binlogStatus()).file;
    const deadline = Date.now() + 20_000;
    for (;;) {
      await db.exec(`PURGE BINARY LOGS TO '${current}'`);
      const first = (await db.query<{ Log_name: string }>('SHOW BINARY LOGS'))[0]!.Log_name;
      if (first === current || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await db.exec(`INSERT INTO ${DB}.audit (what) VALUES ('after the gap')`);
    await ship();

    const err = await runPitr({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: { kind: 'latest' }, dryRun: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(`binlog ${lost} is purged on the source before it was shipped`);
    expect((err as Error).message).toMatch(/recoverable: .* → /);

    const ok = await pitrInto({ kind: 'position', file: lastShipped.file, position: lastShipped.endPosition });
    expect(ok.plan.base.id).toBe(baseId);
    expect(await checksums(target.conn)).toEqual(atBefore);
  }, 90_000);
});
