// The migration runner against the real MariaDB: reversibility, drift detection, the lock and
// half-failed migrations.
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { OperationError, UsageError, VerificationError } from '../../src/errors.js';
import {
  baseline,
  create,
  down,
  ensureDatePartitions,
  listDatePartitions,
  loadMigrations,
  migrationLockName,
  resolve,
  schemaDrift,
  status,
  up,
  verify,
} from '../../src/migrate/index.js';
import { splitSqlStatements } from '../../src/migrate/split-sql.js';
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
  'schema_migrations', 'sessions', 'settings', 'sites', 'users', 'visitor_salts',
];
const ALL_IDS = ['0001_core_tables', '0002_aggregate_tables', '0003_system_tables', '0004_visitor_privacy'];
/** A 16-byte session id literal (sessions.id is 16 random bytes since 0004). */
const SID = "X'0123456789abcdef0123456789abcdef'";

describe('migrate up/down', () => {
  it('up from empty, down to zero and up again give the same schema', async () => {
    const { conn } = await db('mg_roundtrip');
    let calls = 0;
    const applied = await up(conn, { beforeChange: async () => void calls++ });
    expect(applied.map((s) => s.id)).toEqual(ALL_IDS);
    expect(calls).toBe(1);
    const first = await schemaSnapshot(conn);
    expect(Object.keys(first).sort()).toEqual(ALL_TABLES);
    expect(first.pageviews).toMatch(/PARTITION BY RANGE\s+COLUMNS\(`day`\)/);
    expect(first.sessions).toMatch(/`ip_hash` varbinary\(32\)/);
    expect(first.sessions).toMatch(/CONSTRAINT `sessions_ip_hash_len` CHECK/);

    // Nothing to do: no hook call, no change.
    expect(await up(conn, { beforeChange: async () => void calls++ })).toEqual([]);
    expect(calls).toBe(1);

    const st = await status(conn);
    expect(st.map((s) => [s.id, s.state])).toEqual([
      ['0001_core_tables', 'applied'],
      ['0002_aggregate_tables', 'applied'],
      ['0003_system_tables', 'applied'],
      ['0004_visitor_privacy', 'applied'],
    ]);
    expect(st[0]!.appliedBy).toMatch(/ as /);
    expect(st[0]!.appliedAt!.getTime()).toBeGreaterThan(Date.now() - 3_600_000);

    const reverted = await down(conn, { to: 0 });
    expect(reverted.map((s) => s.version)).toEqual([4, 3, 2, 1]);
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
    expect(applied).toEqual([1, 2, 3, 4]); // each migration applied exactly once
    expect([a.length, b.length].sort()).toEqual([0, 4]);
    expect((await status(d.conn)).map((s) => s.state)).toEqual(['applied', 'applied', 'applied', 'applied']);
  });

  it('fails clearly when another run holds the lock past the timeout', async () => {
    const d = await db('mg_locked');
    const holder = await d.another();
    await holder.query('SELECT GET_LOCK(?, 0)', [migrationLockName(d.name)]);
    const started = Date.now();
    const err = await up(d.conn, { lockTimeoutSec: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/another migration, seed or partition maintenance of database mg_locked is running \(held by connection \d+\); waited 1 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await holder.query('SELECT RELEASE_LOCK(?)', [migrationLockName(d.name)]);
    expect(await up(d.conn, { lockTimeoutSec: 1 })).toHaveLength(4);
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
    expect(made.id).toBe('0005_add_goals_table');
    expect((await readdir(dir)).filter((f) => f.startsWith('0005_')).sort()).toEqual([
      '0005_add_goals_table.down.sql',
      '0005_add_goals_table.up.sql',
    ]);
    expect((await loadMigrations(dir)).at(-1)?.checksum).toMatch(/^[0-9a-f]{64}$/);

    await rm(made.downPath);
    await expect(loadMigrations(dir)).rejects.toThrow(/0005_add_goals_table\.down\.sql is missing/);
    await writeFile(made.downPath, '');
    await writeFile(join(dir, '0005_other.up.sql'), '');
    await writeFile(join(dir, 'notes.sql'), '');
    const err = await loadMigrations(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/0005_other\.up\.sql: version 0005 is also used/);
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
      `INSERT INTO pageviews (day, site_id, session_id, \`timestamp\`, page_path) VALUES ('2026-11-26', 1, ${SID}, '2026-11-26 12:00:00', '/'), ('2026-12-01', 1, ${SID}, '2026-12-01 00:00:00', '/')`,
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
      conn.query(`INSERT INTO pageviews (day, site_id, session_id, \`timestamp\`, page_path) VALUES ('2026-11-27', 1, ${SID}, '2026-11-26 23:00:00', '/')`),
    ).rejects.toThrow(/pageviews_day_matches/);
  });
});

describe('catch-up after a gap in maintenance', () => {
  it('gives every day of the gap its own partition, so each expires on its own day', async () => {
    const { conn } = await db('mg_gap');
    await up(conn);
    await ensureDatePartitions(conn, 'pageviews', '2026-11-25', '2026-11-27');
    // Maintenance stops; hits keep coming and land in pmax.
    await conn.query(`INSERT INTO pageviews (day, site_id, session_id, \`timestamp\`, page_path) VALUES ('2026-11-29', 1, ${SID}, '2026-11-29 08:00:00', '/')`);
    const added = await ensureDatePartitions(conn, 'pageviews', '2026-12-06', '2026-12-07');
    expect(added).toEqual(['p20261128', 'p20261129', 'p20261130', 'p20261201', 'p20261202', 'p20261203', 'p20261204', 'p20261205', 'p20261206', 'p20261207']);
    const parts = await listDatePartitions(conn, 'pageviews');
    for (const p of parts.filter((x) => x.day)) expect(p.lessThan, p.name).toBe(new Date(Date.parse(`${p.day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10));
    const [rows] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM pageviews PARTITION (p20261129)');
    expect(Number(rows[0]!.n)).toBe(1);
  });
});

describe('0004_visitor_privacy on rows written before it', () => {
  it('re-keys hashes per day and session ids at random, keeping the links between tables', async () => {
    const { conn } = await db('mg_rekey');
    await up(conn, { to: 3 });
    await conn.query("INSERT INTO sites (id, public_id, domain, name) VALUES (1, 'abcdefabcdef', 'a.example', 'A')");
    // The old scheme: sha256(ip) unsalted, sequential session ids; one visitor on two days.
    for (const [id, day] of [[1, '2026-11-01'], [2, '2026-11-02'], [3, '2026-11-02']] as const) {
      await conn.query(
        `INSERT INTO sessions (id, site_id, user_hash, ip_hash, started_at, ended_at, entry_page, exit_page)
         VALUES (?, 1, UNHEX(SHA2('u', 256)), UNHEX(SHA2('1.2.3.4', 256)), '${day} 10:00:00', '${day} 10:05:00', '/', '/')`,
        [id],
      );
    }
    await ensureDatePartitions(conn, 'pageviews', '2026-11-01', '2026-11-02');
    await conn.query("INSERT INTO pageviews (day, site_id, session_id, `timestamp`, page_path) VALUES ('2026-11-01', 1, 1, '2026-11-01 10:00:00', '/a'), ('2026-11-02', 1, 2, '2026-11-02 10:00:00', '/b'), ('2026-11-02', 1, 3, '2026-11-02 10:01:00', '/c')");
    await conn.query("INSERT INTO events (day, site_id, session_id, `timestamp`, event_name) VALUES ('2026-11-02', 1, 3, '2026-11-02 10:01:00', 'signup')");
    await up(conn);
    const [s] = await conn.query<RowDataPacket[]>(
      `SELECT HEX(s.id) AS id, HEX(s.ip_hash) AS ip, HEX(s.user_hash) AS u, DATE(s.started_at) AS day, p.page_path AS path
         FROM sessions s JOIN pageviews p ON p.session_id = s.id ORDER BY p.page_path`,
    );
    expect(s.map((r) => r.path)).toEqual(['/a', '/b', '/c']); // every pageview still finds its session
    expect(new Set(s.map((r) => String(r.id))).size).toBe(3);
    for (const r of s) expect(String(r.id)).toMatch(/^[0-9A-F]{32}$/);
    for (const r of s) expect(String(r.id)).not.toMatch(/^0{24}/); // no old number showing through
    const unsalted = createHash('sha256').update('1.2.3.4').digest('hex').toUpperCase();
    expect(s.every((r) => r.ip !== unsalted)).toBe(true);
    expect(s[0]!.ip).not.toBe(s[1]!.ip); // the same IP on two days: two hashes
    expect(s[1]!.ip).toBe(s[2]!.ip); // within a day still comparable
    expect(s[0]!.u).not.toBe(s[1]!.u);
    const [e] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM events e JOIN sessions s ON s.id = e.session_id');
    expect(Number(e[0]!.n)).toBe(1);
    expect(Object.keys(await schemaSnapshot(conn))).not.toContain('dbops_rekey_0004'); // the key is gone
    // Nothing but a 32-byte value goes into a hash column.
    await expect(conn.query("UPDATE sessions SET ip_hash = '1.2.3.4' LIMIT 1")).rejects.toThrow(/sessions_ip_hash_len/);
    await expect(conn.query("INSERT INTO visitor_salts (day, salt) VALUES ('2026-11-03', 'short')")).rejects.toThrow(/visitor_salts_salt_len/);
  });
});

describe('a database created before dbops (D3)', () => {
  it('up failing at its first statement changed nothing: no hint to run down, and down only forgets it', async () => {
    const { conn } = await db('mg_handmade');
    await conn.query('CREATE TABLE sites (id INT UNSIGNED NOT NULL PRIMARY KEY, domain VARCHAR(253) NOT NULL)');
    await conn.query("INSERT INTO sites VALUES (1, 'kept.example'), (2, 'also-kept.example')");
    const err = await up(conn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/Table 'sites' already exists/);
    expect((err as Error).message).toMatch(/changed nothing/);
    expect((err as Error).message).not.toMatch(/migrate down/);
    const st = await status(conn);
    expect(st[0]).toMatchObject({ state: 'failed' });
    expect(st[0]!.hint).not.toMatch(/migrate down/);
    expect(st[0]!.hint).toMatch(/migrate baseline --version N/);
    // What the old hint said to do: it must not drop the table the failed up found.
    const reverted = await down(conn);
    expect(reverted).toMatchObject([{ id: '0001_core_tables', forgotten: true, statements: 0 }]);
    const [rows] = await conn.query<RowDataPacket[]>('SELECT domain FROM sites ORDER BY id');
    expect(rows.map((r) => r.domain)).toEqual(['kept.example', 'also-kept.example']);
    expect((await status(conn)).every((x) => x.state === 'pending')).toBe(true);
  });

  it('baseline records the migrations an existing schema already has; verify then compares the live schema', async () => {
    const { conn } = await db('mg_baseline');
    for (const f of await loadMigrations((await import('../../src/migrate/index.js')).defaultMigrationsDir())) {
      for (const st of splitSqlStatements(f.up)) await conn.query(st.sql); // made by hand, without dbops
    }
    await expect(verify(conn)).rejects.toThrow(/not initialised/);
    expect(await baseline(conn, 4)).toEqual(ALL_IDS);
    expect((await status(conn)).map((x) => x.state)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect((await status(conn))[0]!.appliedBy).toMatch(/\(baseline\)$/);
    await expect(verify(conn)).resolves.toEqual({ applied: 4 });
    await expect(baseline(conn, 4)).rejects.toThrow(/already has migration history/);
    expect(await up(conn)).toEqual([]);
  });
});

describe('schema drift', () => {
  it('names columns and indexes changed by hand and partitions maintenance did not make; daily partitions are not drift', async () => {
    const { conn } = await db('mg_schema_drift');
    await up(conn);
    await ensureDatePartitions(conn, 'pageviews', '2026-11-25', '2026-11-27');
    expect(await schemaDrift(conn)).toEqual([]);
    await conn.query('ALTER TABLE pageviews ADD COLUMN ip_address VARCHAR(45) NULL');
    await conn.query('ALTER TABLE events DROP INDEX events_site_time');
    await conn.query("ALTER TABLE pageviews REORGANIZE PARTITION pmax INTO (PARTITION p_hand VALUES LESS THAN ('2026-12-31'), PARTITION pmax VALUES LESS THAN (MAXVALUE))");
    await conn.query('CREATE TABLE notes (id INT PRIMARY KEY)');
    const drift = await schemaDrift(conn);
    expect(drift).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ table: 'pageviews', kind: 'column', name: 'ip_address', change: 'added', detail: 'varchar(45) NULL DEFAULT NULL COLLATE utf8mb4_bin' }),
        expect.objectContaining({ table: 'events', kind: 'index', name: 'events_site_time', change: 'removed' }),
        expect.objectContaining({ table: 'pageviews', kind: 'partition', name: 'p_hand', change: 'added' }),
        expect.objectContaining({ table: 'notes', kind: 'table', change: 'added' }),
      ]),
    );
    expect(drift).toHaveLength(4);
    const err = await verify(conn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as Error).message).toMatch(/pageviews: column ip_address added/);
    const [dbs] = await conn.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'dbops\\_shadow\\_%'");
    expect(Number(dbs[0]!.n)).toBe(0); // the scratch database is gone
  });
});
