// The seed generator against the real MariaDB: deterministic (same seed → identical tables),
// seed-sensitive, and its aggregates agree with the raw rows.
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { listDatePartitions, migrationLockName, up } from '../../src/migrate/index.js';
import { DEV_SETTINGS, DEV_USERNAME, seed, type SeedResult } from '../../src/seed/index.js';
import { dropSecondaryIndexes, DEFERRED_INDEXES_SETTING } from '../../src/seed/deferred-indexes.js';
import { mariadb } from '../helpers/mariadb.js';
import { openFreshDb, type TestDb } from '../migrate/helpers.js';

const TABLES = ['sites', 'sessions', 'pageviews', 'events', 'daily_stats', 'page_stats', 'referrer_stats', 'realtime_visitors', 'users', 'settings'];
const OPTIONS = { sizeBytes: 6_000_000, sites: 2, days: 7, endDate: '2026-11-27' };

async function checksums(conn: Connection): Promise<Record<string, string>> {
  const [rows] = await conn.query<RowDataPacket[]>(`CHECKSUM TABLE ${TABLES.join(', ')}`);
  return Object.fromEntries(rows.map((r) => [String(r.Table).split('.').pop()!, String(r.Checksum)]));
}

async function createTables(conn: Connection): Promise<string[]> {
  const out: string[] = [];
  for (const t of TABLES) {
    const [rows] = await conn.query<RowDataPacket[]>(`SHOW CREATE TABLE \`${t}\``);
    // AUTO_INCREMENT moves with the rows and the seed adds day partitions; columns, keys and
    // constraints are what must not change.
    out.push(String(rows[0]!['Create Table']).replace(/ AUTO_INCREMENT=\d+/, '').replace(/\s+PARTITION BY[\s\S]*$/, ''));
  }
  return out;
}

async function one(conn: Connection, sql: string): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>(sql);
  return Number(Object.values(rows[0]!)[0]);
}

const dbs: TestDb[] = [];
let a: TestDb;
let b: TestDb;
let c: TestDb;
let result: SeedResult;
let migratedSchema: string[];

beforeAll(async () => {
  [a, b, c] = [await openFreshDb('sd_seed_a'), await openFreshDb('sd_seed_b'), await openFreshDb('sd_seed_c')];
  dbs.push(a, b, c);
  for (const d of dbs) await up(d.conn);
  migratedSchema = await createTables(a.conn);
  result = await seed(a.conn, { ...OPTIONS, seed: 7 });
  // b through connection options: the parallel-loader path must produce the very same rows.
  const m = mariadb().conn;
  const options: ConnectionOptions = { user: m.user, password: m.password, database: b.name };
  if (m.socket) options.socketPath = m.socket;
  else Object.assign(options, { host: m.host, port: m.port });
  await seed(options, { ...OPTIONS, seed: 7 });
  await seed(c.conn, { ...OPTIONS, seed: 8 });
  // Visible in the test output: the rate this machine reached.
  console.log(
    `seed: ${(result.dataBytes / 1e6).toFixed(1)} MB table data (${result.rows.pageviews} pageviews) ` +
      `raw load ${result.loadSeconds.toFixed(2)} s = ${result.loadMBps.toFixed(1)} MB/s, total ${result.totalSeconds.toFixed(2)} s`,
  );
});
afterAll(async () => {
  for (const d of dbs) await d.close();
});

describe('seed', () => {
  it('is deterministic: the same seed gives identical tables, another seed does not', async () => {
    const [ca, cb, cc] = [await checksums(a.conn), await checksums(b.conn), await checksums(c.conn)];
    expect(Object.keys(ca).sort()).toEqual([...TABLES].sort());
    expect(cb).toEqual(ca);
    for (const t of ['sessions', 'pageviews', 'events', 'daily_stats', 'page_stats', 'referrer_stats']) {
      expect(cc[t], t).not.toEqual(ca[t]);
    }
  });

  it('produces roughly the requested size over the requested days', async () => {
    expect(result.dataBytes).toBeGreaterThan(OPTIONS.sizeBytes * 0.5);
    expect(result.dataBytes).toBeLessThan(OPTIONS.sizeBytes * 2);
    expect(result.from).toBe('2026-11-21');
    expect(await one(a.conn, 'SELECT COUNT(DISTINCT day) FROM pageviews')).toBe(7);
    expect(await one(a.conn, "SELECT MIN(day) = '2026-11-21' AND MAX(day) = '2026-11-27' FROM pageviews")).toBe(1);
    expect(await one(a.conn, 'SELECT COUNT(*) FROM sites')).toBe(2);
    // Every day has its own partition; nothing spilled into pmax.
    const parts = await listDatePartitions(a.conn, 'pageviews');
    expect(parts.filter((p) => p.day).map((p) => p.day)).toEqual([
      '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27',
    ]);
    expect(await one(a.conn, 'SELECT COUNT(*) FROM pageviews PARTITION (pmax)')).toBe(0);
    expect(await one(a.conn, 'SELECT COUNT(*) FROM events PARTITION (pmax)')).toBe(0);
  });

  it('keeps aggregates consistent with the raw rows', async () => {
    const conn = a.conn;
    const pageviews = await one(conn, 'SELECT COUNT(*) FROM pageviews');
    const sessions = await one(conn, 'SELECT COUNT(*) FROM sessions');
    const events = await one(conn, 'SELECT COUNT(*) FROM events');
    expect(pageviews).toBeGreaterThan(sessions);
    expect(events).toBeGreaterThan(0);
    expect(await one(conn, 'SELECT SUM(pageviews) FROM daily_stats')).toBe(pageviews);
    expect(await one(conn, 'SELECT SUM(sessions) FROM daily_stats')).toBe(sessions);
    expect(await one(conn, 'SELECT SUM(events) FROM daily_stats')).toBe(events);
    expect(await one(conn, 'SELECT SUM(pageviews) FROM page_stats')).toBe(pageviews);
    expect(await one(conn, 'SELECT SUM(entries) FROM page_stats')).toBe(sessions);
    expect(await one(conn, 'SELECT SUM(sessions) FROM referrer_stats')).toBe(sessions);
    expect(await one(conn, 'SELECT SUM(pageviews) FROM referrer_stats')).toBe(pageviews);
    expect(await one(conn, 'SELECT SUM(pageview_count) FROM sessions')).toBe(pageviews);
    expect(await one(conn, 'SELECT SUM(bounces) FROM daily_stats')).toBe(
      await one(conn, 'SELECT COUNT(*) FROM sessions WHERE pageview_count = 1'),
    );
    // Every pageview and event belongs to a session of the same site.
    expect(
      await one(conn, 'SELECT COUNT(*) FROM pageviews p LEFT JOIN sessions s ON s.id = p.session_id AND s.site_id = p.site_id WHERE s.id IS NULL'),
    ).toBe(0);
    expect(await one(conn, 'SELECT COUNT(*) FROM events e LEFT JOIN sessions s ON s.id = e.session_id WHERE s.id IS NULL')).toBe(0);
  });

  it('looks realistic: Zipf pages, bounces, referrers, JSON properties, hashed IPs only', async () => {
    const conn = a.conn;
    const top = await one(conn, "SELECT COUNT(*) FROM pageviews WHERE site_id = 1 AND page_path = '/'");
    const median = await one(
      conn,
      'SELECT n FROM (SELECT COUNT(*) AS n FROM pageviews WHERE site_id = 1 GROUP BY page_path ORDER BY n DESC LIMIT 1 OFFSET 50) x',
    );
    expect(top).toBeGreaterThan(median * 20);
    const bounceRate = (await one(conn, 'SELECT AVG(pageview_count = 1) FROM sessions'));
    expect(bounceRate).toBeGreaterThan(0.3);
    expect(bounceRate).toBeLessThan(0.55);
    expect(await one(conn, 'SELECT COUNT(DISTINCT referrer_host) FROM sessions')).toBeGreaterThan(10);
    expect(await one(conn, 'SELECT COUNT(*) FROM events WHERE JSON_VALID(properties) = 0')).toBe(0);
    expect(await one(conn, "SELECT COUNT(*) FROM events WHERE event_name = 'purchase' AND JSON_EXTRACT(properties, '$.order_value_cents') > 0")).toBeGreaterThan(0);
    expect(await one(conn, 'SELECT MIN(LENGTH(ip_hash)) = 32 AND MAX(LENGTH(user_hash)) = 32 FROM sessions')).toBe(1);
    expect(await one(conn, 'SELECT COUNT(DISTINCT user_hash) < COUNT(*) FROM sessions')).toBe(1); // returning visitors
    expect(await one(conn, 'SELECT COUNT(*) FROM realtime_visitors')).toBeGreaterThan(0);
  });

  it('hashes visitors under a salt per day (none stored) and gives sessions random 16-byte ids', async () => {
    const conn = a.conn;
    // A returning visitor (the generator draws visitors from a skewed pool) is the same within a day…
    expect(await one(conn, 'SELECT COUNT(*) FROM (SELECT ip_hash FROM sessions GROUP BY DATE(started_at), ip_hash HAVING COUNT(*) > 1) x')).toBeGreaterThan(0);
    // …and unrecognisable the next: no ip_hash or user_hash appears on two days.
    expect(await one(conn, 'SELECT COUNT(*) FROM (SELECT ip_hash FROM sessions GROUP BY ip_hash HAVING COUNT(DISTINCT DATE(started_at)) > 1) x')).toBe(0);
    expect(await one(conn, 'SELECT COUNT(*) FROM (SELECT user_hash FROM sessions GROUP BY user_hash HAVING COUNT(DISTINCT DATE(started_at)) > 1) x')).toBe(0);
    expect(await one(conn, 'SELECT COUNT(*) FROM visitor_salts')).toBe(0);
    expect(await one(conn, 'SELECT MIN(LENGTH(id)) = 16 AND MAX(LENGTH(id)) = 16 FROM sessions')).toBe(1);
    // Not sequential: in start order, about half of the neighbours go up, not all of them.
    const [ids] = await conn.query<RowDataPacket[]>('SELECT HEX(id) AS id FROM sessions ORDER BY started_at, id');
    let rising = 0;
    for (let i = 1; i < ids.length; i++) if (String(ids[i]!.id) > String(ids[i - 1]!.id)) rising++;
    expect(rising / (ids.length - 1)).toBeGreaterThan(0.4);
    expect(rising / (ids.length - 1)).toBeLessThan(0.6);
  });

  it('creates a development login and the instance settings', async () => {
    const [users] = await a.conn.query<RowDataPacket[]>('SELECT username, role, password_hash FROM users');
    expect(users.map((u) => [u.username, u.role])).toEqual([[DEV_USERNAME, 'admin']]);
    expect(String(users[0]!.password_hash)).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    const [settings] = await a.conn.query<RowDataPacket[]>('SELECT name, CONCAT(value) AS value FROM settings ORDER BY name');
    expect(Object.fromEntries(settings.map((r) => [r.name, JSON.parse(String(r.value))]))).toEqual(DEV_SETTINGS);
  });

  it('waits for the schema lock a migration or partition maintenance holds', async () => {
    const holder = await c.another();
    await holder.query('SELECT GET_LOCK(?, 0)', [migrationLockName(c.name)]);
    try {
      await expect(seed(c.conn, { ...OPTIONS, seed: 7, truncate: true, lockTimeoutSec: 1 })).rejects.toThrow(/another migration, seed or partition maintenance of database sd_seed_c is running/);
    } finally {
      await holder.query('SELECT RELEASE_LOCK(?)', [migrationLockName(c.name)]);
    }
  });

  it('refuses a database that already holds data, and truncate replaces it identically', async () => {
    await expect(seed(a.conn, { ...OPTIONS, seed: 7 })).rejects.toThrow(UsageError);
    await seed(c.conn, { ...OPTIONS, seed: 7, truncate: true });
    expect(await checksums(c.conn)).toEqual(await checksums(a.conn));
  });

  it('loads without the secondary indexes and leaves every table defined exactly as the migrations made it', async () => {
    expect(result.indexSeconds).toBeGreaterThan(0);
    expect(result.indexSeconds).toBeLessThan(result.loadSeconds);
    expect(await createTables(a.conn)).toEqual(migratedSchema);
    expect(await one(a.conn, `SELECT COUNT(*) FROM settings WHERE name = '${DEFERRED_INDEXES_SETTING}'`)).toBe(0);
  });

  it('a seed killed after dropping the indexes is repaired by the next run', async () => {
    // The state a SIGKILL in the middle of the load leaves: indexes dropped, the record kept.
    await c.conn.query('SET SESSION foreign_key_checks = 0');
    const dropped = await dropSecondaryIndexes(c.conn, ['sessions', 'pageviews', 'events']);
    expect(Object.keys(dropped).sort()).toEqual(['events', 'pageviews', 'sessions']);
    // The FK on sessions.site_id is served by the primary key (site_id, started_at, id).
    expect(dropped.sessions).toEqual(['UNIQUE KEY `sessions_id` (`id`)', 'KEY `sessions_user_hash` (`user_hash`)']);
    expect(await createTables(c.conn)).not.toEqual(migratedSchema);
    await seed(c.conn, { ...OPTIONS, seed: 7, truncate: true });
    expect(await createTables(c.conn)).toEqual(migratedSchema);
    expect(await checksums(c.conn)).toEqual(await checksums(a.conn));
  });

  it('a load that fails half-way still adds the indexes back', async () => {
    // A real server error in the middle of the pageviews load: a trigger that fails one row.
    await c.conn.query(
      "CREATE TRIGGER fail_one_pageview BEFORE INSERT ON pageviews FOR EACH ROW IF NEW.id = 2000 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF",
    );
    try {
      await expect(seed(c.conn, { ...OPTIONS, seed: 7, truncate: true })).rejects.toThrow(/injected failure/);
      const schema = await createTables(c.conn);
      expect(schema.filter((_, i) => TABLES[i] !== 'pageviews')).toEqual(migratedSchema.filter((_, i) => TABLES[i] !== 'pageviews'));
      expect(schema[TABLES.indexOf('pageviews')]).toContain('KEY `pageviews_site_time_path`');
      expect(await one(c.conn, `SELECT COUNT(*) FROM settings WHERE name = '${DEFERRED_INDEXES_SETTING}'`)).toBe(0);
    } finally {
      await c.conn.query('DROP TRIGGER fail_one_pageview');
    }
  });
});
