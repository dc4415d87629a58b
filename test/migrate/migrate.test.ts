// The migration runner against the real MariaDB: reversibility, drift detection, the lock and
// half-failed migrations.
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { OperationError, UsageError, VerificationError } from '../../src/errors.js';
import {
  create,
  down,
  ensureDatePartitions,
  listDatePartitions,
  loadMigrations,
  migrationLockName,
  resolve,
  status,
  up,
  verify,
} from '../../src/migrate/index.js';
import { copyMigrations, openFreshDb, schemaSnapshot, type TestDb } from './helpers.js';

const open: TestDb[] = [];
const tempDirs: string[] = [];
async function db(name: string): Promise<TestDb> {
  const d = await openFreshDb(name);
  open.push(d);
  return d;
}
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dbops-mig-'));
  tempDirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of open) await d.close();
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

const ALL_TABLES = [
  'daily_stats', 'events', 'page_stats', 'pageviews', 'realtime_visitors', 'referrer_stats',
  'schema_migrations', 'sessions', 'settings', 'sites', 'users',
];

describe('migrate up/down', () => {
  it('up from empty, down to zero and up again give the same schema', async () => {
    const { conn } = await db('mg_roundtrip');
    let calls = 0;
    const applied = await up(conn, { beforeChange: async () => void calls++ });
    expect(applied.map((s) => s.id)).toEqual(['0001_core_tables', '0002_aggregate_tables', '0003_system_tables']);
    expect(calls).toBe(1);
    const first = await schemaSnapshot(conn);
    expect(Object.keys(first).sort()).toEqual(ALL_TABLES);
    expect(first.pageviews).toMatch(/PARTITION BY RANGE\s+COLUMNS\(`day`\)/);
    expect(first.sessions).toMatch(/`ip_hash` binary\(32\)/);

    // Nothing to do: no hook call, no change.
    expect(await up(conn, { beforeChange: async () => void calls++ })).toEqual([]);
    expect(calls).toBe(1);

    const st = await status(conn);
    expect(st.map((s) => [s.id, s.state])).toEqual([
      ['0001_core_tables', 'applied'],
      ['0002_aggregate_tables', 'applied'],
      ['0003_system_tables', 'applied'],
    ]);
    expect(st[0]!.appliedBy).toMatch(/ as /);
    expect(st[0]!.appliedAt!.getTime()).toBeGreaterThan(Date.now() - 3_600_000);

    const reverted = await down(conn, { to: 0 });
    expect(reverted.map((s) => s.version)).toEqual([3, 2, 1]);
    expect(Object.keys(await schemaSnapshot(conn))).toEqual(['schema_migrations']);
    expect((await status(conn)).every((s) => s.state === 'pending')).toBe(true);

    await up(conn);
    expect(await schemaSnapshot(conn)).toEqual(first);
  });

  it("each migration's down undoes exactly its up", async () => {
    const { conn } = await db('mg_each_down');
    const versions = (await loadMigrations((await import('../../src/migrate/index.js')).defaultMigrationsDir())).map(
      (m) => m.version,
    );
    let before = await schemaSnapshot(conn); // empty
    for (const v of versions) {
      await up(conn, { to: v });
      const after = await schemaSnapshot(conn);
      expect(after).not.toEqual(before);
      await down(conn, { steps: 1 });
      const { schema_migrations: _a, ...reverted } = await schemaSnapshot(conn);
      const { schema_migrations: _b, ...expected } = before;
      expect(reverted).toEqual(expected);
      await up(conn, { to: v });
      before = await schemaSnapshot(conn);
    }
  });
});

describe('drift', () => {
  it('an edited applied migration fails verify (and up) naming the file', async () => {
    const { conn } = await db('mg_drift');
    const dir = await copyMigrations();
    tempDirs.push(dir);
    await up(conn, { dir });
    await verify(conn, { dir });
    await appendFile(join(dir, '0002_aggregate_tables.up.sql'), '\n-- an innocent-looking edit\n');
    const err = await verify(conn, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as Error).message).toContain('0002_aggregate_tables.up.sql');
    expect((err as VerificationError).object).toMatch(/0002_aggregate_tables\.up\.sql$/);
    await expect(up(conn, { dir })).rejects.toThrow(VerificationError);
    expect((await status(conn, { dir })).find((s) => s.version === 2)?.state).toBe('changed');
  });
});

describe('lock', () => {
  it('two concurrent ups: one waits for the other, the end state is correct', async () => {
    const d = await db('mg_concurrent');
    const other = await d.another();
    const [a, b] = await Promise.all([up(d.conn), up(other)]);
    const applied = [...a, ...b].map((s) => s.version).sort();
    expect(applied).toEqual([1, 2, 3]); // each migration applied exactly once
    expect([a.length, b.length].sort()).toEqual([0, 3]);
    expect((await status(d.conn)).map((s) => s.state)).toEqual(['applied', 'applied', 'applied']);
  });

  it('fails clearly when another run holds the lock past the timeout', async () => {
    const d = await db('mg_locked');
    const holder = await d.another();
    await holder.query('SELECT GET_LOCK(?, 0)', [migrationLockName(d.name)]);
    const started = Date.now();
    const err = await up(d.conn, { lockTimeoutSec: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/another migration of database mg_locked is running \(held by connection \d+\); waited 1 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await holder.query('SELECT RELEASE_LOCK(?)', [migrationLockName(d.name)]);
    expect(await up(d.conn, { lockTimeoutSec: 1 })).toHaveLength(3);
  });
});

describe('failed migration', () => {
  it('is recorded with the failing statement, blocks up, and down recovers', async () => {
    const { conn } = await db('mg_failed');
    const dir = await tempDir();
    await writeFile(join(dir, '0001_first.up.sql'), 'CREATE TABLE first_t (id INT PRIMARY KEY);\n');
    await writeFile(join(dir, '0001_first.down.sql'), 'DROP TABLE IF EXISTS first_t;\n');
    await writeFile(
      join(dir, '0002_broken.up.sql'),
      "-- two good statements around a bad one\nCREATE TABLE b1 (id INT, note VARCHAR(10) DEFAULT 'a;b');\nCREATE TABLE b2 (id INT, nonsense);\nCREATE TABLE b3 (id INT);\n",
    );
    await writeFile(join(dir, '0002_broken.down.sql'), 'DROP TABLE IF EXISTS b3;\nDROP TABLE IF EXISTS b2;\nDROP TABLE IF EXISTS b1;\n');

    const err = await up(conn, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/0002_broken up failed at 0002_broken\.up\.sql:3/);

    const st = await status(conn, { dir });
    expect(st[0]!.state).toBe('applied');
    expect(st[1]).toMatchObject({ id: '0002_broken', state: 'failed', failedDirection: 'up', failedStatement: 'CREATE TABLE b2 (id INT, nonsense)' });
    expect(st[1]!.error).toMatch(/syntax/i);
    expect(st[1]!.hint).toMatch(/migrate down/);
    const [rows] = await conn.query<RowDataPacket[]>('SELECT statements_done FROM schema_migrations WHERE version = 2');
    expect(Number(rows[0]!.statements_done)).toBe(1);
    expect(Object.keys(await schemaSnapshot(conn))).toContain('b1'); // the partial change is real

    await expect(up(conn, { dir })).rejects.toThrow(/0002_broken failed .*migrate down/);

    // Recovery: down undoes the partial change, fix the file, up again.
    expect((await down(conn, { dir })).map((s) => s.id)).toEqual(['0002_broken']);
    expect(Object.keys(await schemaSnapshot(conn)).sort()).toEqual(['first_t', 'schema_migrations']);
    await writeFile(join(dir, '0002_broken.up.sql'), 'CREATE TABLE b1 (id INT);\nCREATE TABLE b2 (id INT);\nCREATE TABLE b3 (id INT);\n');
    expect((await up(conn, { dir })).map((s) => s.id)).toEqual(['0002_broken']);
    expect((await status(conn, { dir })).map((s) => s.state)).toEqual(['applied', 'applied']);
  });

  it('can be marked applied after a repair by hand', async () => {
    const { conn } = await db('mg_resolved');
    const dir = await tempDir();
    await writeFile(join(dir, '0001_half.up.sql'), 'CREATE TABLE h1 (id INT);\nCREATE TABLE h2 (id INT, oops);\n');
    await writeFile(join(dir, '0001_half.down.sql'), 'DROP TABLE IF EXISTS h2;\nDROP TABLE IF EXISTS h1;\n');
    await expect(up(conn, { dir })).rejects.toThrow(OperationError);
    await expect(resolve(conn, 1, 'applied', { dir })).resolves.toBeUndefined();
    await conn.query('CREATE TABLE h2 (id INT)'); // the by-hand repair
    expect((await status(conn, { dir }))[0]).toMatchObject({ state: 'applied' });
    expect(await up(conn, { dir })).toEqual([]);
    await expect(resolve(conn, 1, 'applied', { dir })).rejects.toThrow(UsageError); // nothing failed any more
  });
});

describe('migration files', () => {
  it('create makes the next numbered pair, and loading validates names and pairs', async () => {
    const dir = await copyMigrations();
    tempDirs.push(dir);
    const made = await create(dir, 'Add goals table');
    expect(made.id).toBe('0004_add_goals_table');
    expect((await readdir(dir)).filter((f) => f.startsWith('0004_')).sort()).toEqual([
      '0004_add_goals_table.down.sql',
      '0004_add_goals_table.up.sql',
    ]);
    expect((await loadMigrations(dir)).at(-1)?.checksum).toMatch(/^[0-9a-f]{64}$/);

    await rm(made.downPath);
    await expect(loadMigrations(dir)).rejects.toThrow(/0004_add_goals_table\.down\.sql is missing/);
    await writeFile(made.downPath, '');
    await writeFile(join(dir, '0004_other.up.sql'), '');
    await writeFile(join(dir, 'notes.sql'), '');
    const err = await loadMigrations(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/0004_other\.up\.sql: version 0004 is also used/);
    expect((err as Error).message).toMatch(/notes\.sql: not a migration name/);
  });
});

describe('date partitions', () => {
  it('adds daily partitions split off pmax, idempotently, and rows land in their day', async () => {
    const { conn } = await db('mg_partitions');
    await up(conn);
    expect(await ensureDatePartitions(conn, 'pageviews', '2026-11-25', '2026-11-27')).toEqual([
      'p20261125',
      'p20261126',
      'p20261127',
    ]);
    expect(await ensureDatePartitions(conn, 'pageviews', '2026-11-26', '2026-11-28')).toEqual(['p20261128']);
    expect(await ensureDatePartitions(conn, 'pageviews', '2026-11-20', '2026-11-27')).toEqual([]);
    await conn.query(
      "INSERT INTO pageviews (day, site_id, session_id, `timestamp`, page_path) VALUES ('2026-11-26', 1, 1, '2026-11-26 12:00:00', '/'), ('2026-12-01', 1, 1, '2026-12-01 00:00:00', '/')",
    );
    await conn.query('ANALYZE TABLE pageviews');
    const parts = await listDatePartitions(conn, 'pageviews');
    expect(parts.map((p) => [p.name, p.day, p.lessThan])).toEqual([
      ['p20261125', '2026-11-25', '2026-11-26'],
      ['p20261126', '2026-11-26', '2026-11-27'],
      ['p20261127', '2026-11-27', '2026-11-28'],
      ['p20261128', '2026-11-28', '2026-11-29'],
      ['pmax', null, null],
    ]);
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT (SELECT COUNT(*) FROM pageviews PARTITION (p20261126)) AS d26, (SELECT COUNT(*) FROM pageviews PARTITION (pmax)) AS m',
    );
    expect([Number(rows[0]!.d26), Number(rows[0]!.m)]).toEqual([1, 1]);
    // A day whose DATE does not match the timestamp is refused: partitions must not lie.
    await expect(
      conn.query("INSERT INTO pageviews (day, site_id, session_id, `timestamp`, page_path) VALUES ('2026-11-27', 1, 1, '2026-11-26 23:00:00', '/')"),
    ).rejects.toThrow(/pageviews_day_matches/);
  });
});
