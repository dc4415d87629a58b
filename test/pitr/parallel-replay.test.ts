// The relay-log applier (the target's own replication applies the shipped binlogs) against the
// one-session decoder pipeline on the same chain, with real MariaDB servers and binlogs
// shipped by the real shipper: every kind of stop lands on the same point with equal
// per-table checksums (also the source's at that point), a temporary table across a
// rotation included; a failure half way is reported with its place and cleaned up; a
// target or chain the relay applier cannot honour falls back to the session, and --replay
// relay refuses it instead (exit 2 with the target untouched). Also the --into-schema
// recoveries whose `use` mariadb-binlog --rewrite-db prints before the statement.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import { formatConnectionUrl } from '../../src/mysql/connection-url.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { runRestore } from '../../src/restore/run-restore.js';
import { tableContentChecksum } from '../../src/verify/content-checksum.js';
import { runPitr, replayTo, type PitrResult } from '../../src/pitr/run-pitr.js';
import type { PitrTarget } from '../../src/pitr/target-spec.js';
import type { ApplierSettings } from '../../src/pitr/replay.js';
import { OperationError } from '../../src/errors.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';

const RELAY: ApplierSettings = { mode: 'relay', threads: 4, parallelMode: 'conservative' };
// Runs transactions ahead of their turn and retries the ones that conflict.
const OPTIMISTIC: ApplierSettings = { mode: 'relay', threads: 4, parallelMode: 'optimistic' };
const SESSION: ApplierSettings = { mode: 'session', threads: 0, parallelMode: 'conservative' };
const AUTO: ApplierSettings = { mode: 'auto', threads: 4, parallelMode: 'conservative' };

let source: SandboxServer;
let target: SandboxServer;
let db: MysqlClient;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: Repository;
let recipients: string[];
let spool: string;
let env: Record<string, string>;
let sourceId = '';
let baseId = '';

async function ship(): Promise<void> {
  const r = await shipBinlogs({ repo, source: source.conn, recipients, compressionLevel: 3, compressionThreads: 1, spoolRoot: spool, maxLagSeconds: 60, once: true });
  sourceId = r.serverUuid;
}

async function checksums(conn: SandboxServer['conn'], dbName: string): Promise<Record<string, string>> {
  return withConnection(conn, async (c) => {
    const tables = await c.query<{ t: string }>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [dbName]);
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

async function pitr(t: PitrTarget, applier: ApplierSettings, extra: Partial<Parameters<typeof runPitr>[0]> = {}): Promise<PitrResult> {
  await emptyTarget();
  return runPitr({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: t, conn: target.conn, applier, ...extra });
}

async function point(): Promise<{ file: string; pos: number; gtid: string }> {
  const row = (await db.query<{ File: string; Position: number }>('SHOW BINLOG STATUS'))[0]!;
  const g = (await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]!.g;
  return { file: row.File, pos: Number(row.Position), gtid: g };
}

/** Nothing of a relay-log run is left on the target: no connection, no relay file, gtid_slave_pos as it was. */
async function noRelayLeftovers(): Promise<void> {
  const slaves = await withConnection(target.conn, (c) => c.query('SHOW ALL SLAVES STATUS'));
  expect(slaves).toEqual([]);
  expect((await readdir(target.datadir)).filter((f) => f.includes('dbops_pitr'))).toEqual([]);
  const g = await withConnection(target.conn, (c) => c.query<{ g: string; t: number }>('SELECT @@gtid_slave_pos AS g, @@slave_parallel_threads AS t'));
  expect(g[0]).toEqual({ g: '', t: 0 });
}

const rows = async (sql: string): Promise<number> => Number((await db.query<{ n: number }>(sql))[0]!.n);

beforeAll(async () => {
  [source, target, keys] = await Promise.all([
    startSandboxServer({ binlog: true, serverId: 21, extraArgs: ['--binlog-format=MIXED'] }),
    startSandboxServer({ binlog: false, serverId: 22 }),
    makeKeys(),
  ]);
  const r = await tempRepoUrl();
  spool = await mkdtemp(join(tmpdir(), 'dbops-relay-spool-'));
  const signer = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  const storage = await openStorage(r.url);
  await initRepository(storage, signer, recipients);
  repo = await openRepository(storage, { signer });
  env = { ...keys.env, DBOPS_STORAGE_URL: r.url, DBOPS_RESTORE_TARGET_URL: target.url };
  db = await MysqlClient.connect(source.conn);
  await db.exec('CREATE DATABASE shop');
  await db.exec('CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, amount DECIMAL(10,2), note VARCHAR(64))');
  await db.exec('CREATE TABLE shop.items (id INT PRIMARY KEY, stock INT NOT NULL)');
  await db.exec('CREATE TABLE shop.notes (id INT PRIMARY KEY, t VARCHAR(20))');
  for (let i = 1; i <= 20; i++) await db.exec('INSERT INTO shop.items VALUES (?, 100)', [i]);
  await db.exec("INSERT INTO shop.notes VALUES (1, 'first')");
  baseId = (await runBackup({ repo, source: source.conn, recipients, databases: ['shop'], compressionLevel: 3, compressionThreads: 1, includeAccounts: true })).id;
}, 120_000);

afterAll(async () => {
  await db?.close();
  await Promise.all([source?.stop(), target?.stop()]);
  if (spool) await rm(spool, { recursive: true, force: true });
});

/** Orders and stock changes, one transaction each, from a second connection (so transactions can group-commit). */
async function writes(n: number, tag: string): Promise<void> {
  const other = await MysqlClient.connect(source.conn);
  try {
    await Promise.all([
      (async () => {
        for (let i = 0; i < n; i++) await db.exec('INSERT INTO shop.orders (customer, amount, note) VALUES (?, ?, ?)', [i % 7, (i * 3.17).toFixed(2), `${tag} ${i}`]);
      })(),
      (async () => {
        for (let i = 0; i < n; i++) await other.exec('UPDATE shop.items SET stock = stock - 1 WHERE id = ?', [(i % 20) + 1]);
      })(),
    ]);
  } finally {
    await other.close();
  }
}

describe('relay-log apply and the one-session replay reach the same point with the same data', () => {
  const points: Array<{ name: string; target: PitrTarget; sums: Record<string, string>; gtid: string }> = [];

  beforeAll(async () => {
    await writes(30, 'a');
    // A position in the middle of a file: --to-position.
    const mid = await point();
    points.push({ name: '--to-position mid-file', target: { kind: 'position', file: mid.file, position: mid.pos }, sums: await checksums(source.conn, 'shop'), gtid: mid.gtid });
    await writes(20, 'b');
    await db.exec('FLUSH BINARY LOGS');
    // A temporary table across a rotation, read after it (statement format: its rows live only in the session).
    await db.exec('SET SESSION binlog_format = MIXED');
    await db.exec('CREATE TEMPORARY TABLE shop.staging (customer INT, amount DECIMAL(10,2))');
    await db.exec('INSERT INTO shop.staging VALUES (901, 1.50), (902, 2.50), (903, 3.50)');
    await db.exec('FLUSH BINARY LOGS');
    await db.exec("INSERT INTO shop.orders (customer, amount, note) SELECT customer, amount, 'from staging' FROM shop.staging");
    await db.exec('DROP TEMPORARY TABLE shop.staging');
    await db.exec('SET SESSION binlog_format = ROW');
    // --to TIME: the next whole second splits what is before from what is after.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 1);
    const atT = await point();
    points.push({ name: '--to TIME after a temporary table spanning a rotation', target: { kind: 'time', time: T, text: T.toISOString() }, sums: await checksums(source.conn, 'shop'), gtid: atT.gtid });
    await new Promise((r) => setTimeout(r, 1000));
    await writes(10, 'c');
    const g = await point();
    points.push({ name: '--to-gtid', target: { kind: 'gtid', text: g.gtid }, sums: await checksums(source.conn, 'shop'), gtid: g.gtid });
    // --before: the DELETE that follows.
    const before = await point();
    points.push({ name: '--before a DELETE', target: { kind: 'before', file: before.file, position: before.pos }, sums: await checksums(source.conn, 'shop'), gtid: before.gtid });
    await db.exec('DELETE FROM shop.orders WHERE customer = 3');
    await writes(10, 'd');
    await db.exec('ALTER TABLE shop.items ADD COLUMN note VARCHAR(8)');
    await db.exec("UPDATE shop.items SET note = 'x' WHERE id < 5");
    const last = await point();
    points.push({ name: '--to latest', target: { kind: 'latest' }, sums: await checksums(source.conn, 'shop'), gtid: last.gtid });
    await db.exec('FLUSH BINARY LOGS');
    await ship();
  }, 120_000);

  it('every stop: equal checksums and GTID state from both appliers (relay in conservative and optimistic mode), equal to the source at that point', async () => {
    expect(points).toHaveLength(5);
    for (const p of points) {
      const relay = await pitr(p.target, RELAY);
      expect(relay.replay!.applier, p.name).toEqual({ kind: 'relay-log', threads: 4, parallelMode: 'conservative' });
      expect(relay.reached!.gtidSet, p.name).toBe(p.gtid);
      const viaRelay = await checksums(target.conn, 'shop');
      await noRelayLeftovers();
      const optimistic = await pitr(p.target, OPTIMISTIC);
      expect(optimistic.replay!.applier, p.name).toEqual({ kind: 'relay-log', threads: 4, parallelMode: 'optimistic' });
      expect(optimistic.reached, p.name).toEqual(relay.reached);
      expect(await checksums(target.conn, 'shop'), p.name).toEqual(viaRelay);
      await noRelayLeftovers();
      const session = await pitr(p.target, SESSION);
      expect(session.replay!.applier.kind, p.name).toBe('session');
      expect(session.reached, p.name).toEqual(relay.reached);
      const viaSession = await checksums(target.conn, 'shop');
      expect(viaRelay, p.name).toEqual(viaSession);
      expect(viaRelay, p.name).toEqual(p.sums);
    }
    const staged = await withConnection(target.conn, (c) => c.query<{ n: number }>("SELECT COUNT(*) AS n FROM shop.orders WHERE note = 'from staging'"));
    expect(Number(staged[0]!.n)).toBe(3);
  }, 300_000);

  it('a failure half way says where and why, and leaves no replication behind', async () => {
    const t = points.at(-1)!.target;
    const { plan } = await runPitr({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: t, dryRun: true });
    const restoreBase = async (): Promise<void> => {
      await emptyTarget();
      const manifest = await repo.backups.read(baseId);
      await runRestore({ repo, manifest, target: target.conn, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, force: false, binlog: false, parallel: 1 });
      // A row the chain inserts later: its INSERT fails with a duplicate key.
      await withConnection(target.conn, (c) => c.exec("INSERT INTO shop.orders (id, customer, amount, note) VALUES (25, 0, 0, 'in the way')"));
    };
    const to = { binlogFile: plan.reached.file, binlogPosition: plan.reached.position };
    for (const applier of [RELAY, SESSION]) {
      await restoreBase();
      const err = await replayTo({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, baseId, sourceId, to, conn: target.conn, applier }).catch((e: unknown) => e);
      expect(err, applier.mode).toBeInstanceOf(OperationError);
      const msg = (err as Error).message;
      expect(msg).not.toContain('\n');
      expect(msg).toMatch(/^binlog replay failed \(/);
      expect(msg).toMatch(/Duplicate entry '25'/);
      expect(msg).toMatch(/the target holds the base backup and part of the replay; restore again after fixing the cause$/);
      if (applier.mode === 'relay') expect(msg).toMatch(/stopped after binlog\.\d+:\d+, GTID state 0-21-\d+/);
    }
    await noRelayLeftovers();
  }, 120_000);
});

describe('what the relay-log applier cannot honour stays in the session', () => {
  /** A point before the chain changes accounts, and the source's checksums there. */
  let beforeAccounts: { target: PitrTarget; sums: Record<string, string> } | undefined;

  it('a chain with account changes falls back without --accounts (and the account is not created), takes the relay path with it', async () => {
    const p = await point();
    beforeAccounts = { target: { kind: 'gtid', text: p.gtid }, sums: await checksums(source.conn, 'shop') };
    await db.exec("CREATE USER 'reporting'@'%' IDENTIFIED BY 'x'");
    await db.exec("GRANT SELECT ON shop.* TO 'reporting'@'%'");
    await writes(3, 'e');
    await db.exec('FLUSH BINARY LOGS');
    await ship();
    const users = async (): Promise<number> => Number((await withConnection(target.conn, (c) => c.query<{ n: number }>("SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'reporting'")))[0]!.n);
    const auto = await pitr({ kind: 'latest' }, AUTO);
    expect(auto.replay!.applier).toMatchObject({ kind: 'session', reason: expect.stringMatching(/the chain changes accounts \(CREATE USER/) });
    expect(await users()).toBe(0);
    expect(await checksums(target.conn, 'shop')).toEqual(await checksums(source.conn, 'shop'));
    const forced = await pitr({ kind: 'latest' }, RELAY).catch((e: unknown) => e);
    expect(forced).toBeInstanceOf(OperationError);
    expect((forced as Error).message).toMatch(/^--replay relay: the chain changes accounts .*; nothing was replayed; use --replay auto;/);
    const withAccounts = await pitr({ kind: 'latest' }, AUTO, { scope: { accounts: true } });
    expect(withAccounts.replay!.applier.kind).toBe('relay-log');
    expect(await users()).toBe(1);
    await withConnection(target.conn, (c) => c.exec("DROP USER 'reporting'@'%'"));
    await noRelayLeftovers();
  }, 120_000);

  it('a target account without replication privileges: auto falls back, --replay relay exits 2 before touching the target; REPLICATION SLAVE ADMIN and SLAVE MONITOR are enough', async () => {
    await withConnection(target.conn, async (c) => {
      await c.exec("CREATE USER 'restorer'@'%' IDENTIFIED BY 'pw'");
      await c.exec("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, EVENT, TRIGGER, RELOAD, PROCESS, BINLOG ADMIN, BINLOG REPLAY ON *.* TO 'restorer'@'%'");
    });
    const restorer = { ...target.conn, user: 'restorer', password: 'pw' };
    const auto = await pitr({ kind: 'latest' }, AUTO, { conn: restorer });
    expect(auto.replay!.applier).toMatchObject({ kind: 'session', reason: expect.stringMatching(/may not manage replication/) });
    expect(await checksums(target.conn, 'shop')).toEqual(await checksums(source.conn, 'shop'));
    await emptyTarget();
    const r = await runCli(['pitr', '--to', 'latest', '--replay', 'relay'], { ...env, DBOPS_RESTORE_TARGET_URL: formatConnectionUrl(restorer) });
    expect(r.exitCode, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--replay relay: the target account may not manage replication .*; use --replay auto \(or session\)/);
    expect(await withConnection(target.conn, (c) => c.listUserDatabases())).toEqual([]);
    // The grants the README names for the relay-log applier are enough.
    await withConnection(target.conn, (c) => c.exec("GRANT REPLICATION SLAVE ADMIN, SLAVE MONITOR ON *.* TO 'restorer'@'%'"));
    const granted = await pitr(beforeAccounts!.target, RELAY, { conn: restorer });
    expect(granted.replay!.applier.kind).toBe('relay-log');
    expect(await checksums(target.conn, 'shop')).toEqual(beforeAccounts!.sums);
    await noRelayLeftovers();
  }, 120_000);
});

describe('--into-schema recoveries (mariadb-binlog --rewrite-db prints `use` before the statement)', () => {
  it('unqualified DDL under `use shop` is replayed into the new name; DROP/CREATE DATABASE of the recovered database never touch the target\'s own', async () => {
    await db.exec('CREATE DATABASE sakila');
    await db.exec('CREATE TABLE sakila.film (id INT PRIMARY KEY)');
    await db.exec('INSERT INTO sakila.film VALUES (1)');
    const base = (await runBackup({ repo, source: source.conn, recipients, databases: ['shop', 'sakila'], compressionLevel: 3, compressionThreads: 1, includeAccounts: false })).id;
    const s = await MysqlClient.connect({ ...source.conn, database: 'shop' });
    try {
      await s.exec('SET SESSION binlog_format = ROW');
      await s.exec('DROP TABLE notes');
      await s.exec('CREATE TABLE notes (id INT PRIMARY KEY, t VARCHAR(30), x INT)');
      await s.exec("INSERT INTO notes VALUES (2, 'second', 3)");
      await s.exec('USE sakila');
      await s.exec('DROP DATABASE sakila');
      await s.exec('CREATE DATABASE sakila');
      await s.exec('USE sakila');
      await s.exec('CREATE TABLE film (id INT PRIMARY KEY, title VARCHAR(20))');
      await s.exec("INSERT INTO film VALUES (7, 'after')");
    } finally {
      await s.close();
    }
    await db.exec('FLUSH BINARY LOGS');
    await ship();
    const shop = await checksums(source.conn, 'shop');
    const sakila = await checksums(source.conn, 'sakila');

    const intoShop = await pitr({ kind: 'latest' }, AUTO, { base, scope: { database: 'shop', intoSchema: 'rescue' } });
    expect(intoShop.replay!.applier.kind).toBe('session');
    expect(await checksums(target.conn, 'rescue')).toEqual(shop);

    // The target has a sakila of its own, which the recovery into `rescue` must leave alone.
    await emptyTarget();
    await withConnection(target.conn, async (c) => {
      await c.exec('CREATE DATABASE sakila');
      await c.exec('CREATE TABLE sakila.keepme (id INT PRIMARY KEY)');
      await c.exec('INSERT INTO sakila.keepme VALUES (1), (2)');
    });
    await runPitr({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: { kind: 'latest' }, conn: target.conn, applier: AUTO, base, scope: { database: 'sakila', intoSchema: 'rescue' } });
    expect(await checksums(target.conn, 'rescue')).toEqual(sakila);
    expect(Object.keys(await checksums(target.conn, 'sakila'))).toEqual(['keepme']);
  }, 120_000);
});
