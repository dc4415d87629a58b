// Measured behaviours of plain `mariadb-dump … | mariadb` (10.11) that lose
// or break data, each shown with the fingerprint and with the flag that fixes
// it. The backup and restore code must pass these flags; if a tool update
// changes a behaviour, the test says so.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlClient } from '../../src/mysql/client.js';
import { diffFingerprints, fingerprintDatabase, quoteIdent } from '../../src/verify/db-fingerprint.js';
import { DUMP_FLAGS, runClient, runDump } from '../helpers/fixtures.js';
import { mariadb } from '../helpers/mariadb.js';

const run = randomBytes(3).toString('hex');
const created: string[] = [];
let client: MysqlClient;
let conn: Connection;
let url: string;
let dir: string;

/** Creates a database named `${prefix}_${run}` and runs the statements in it (one per query). */
async function makeDatabase(prefix: string, statements: string[]): Promise<string> {
  const db = `${prefix}_${run}`;
  created.push(db);
  await conn.query(`CREATE DATABASE ${quoteIdent(db)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.query(`USE ${quoteIdent(db)}`);
  for (const sql of statements) await conn.query(sql);
  return db;
}

/** Dumps `db` with the product's flags plus `extra`, drops it and restores the dump. */
async function roundTrip(db: string, extra: string[], restore: { comments?: boolean } = {}): Promise<void> {
  const file = join(dir, `${db}.sql`);
  await runDump(url, [...DUMP_FLAGS, ...extra, '--databases', db], file);
  await conn.query(`DROP DATABASE ${quoteIdent(db)}`);
  await runClient(url, { inputFile: file, ...restore });
}

beforeAll(async () => {
  url = mariadb().url;
  client = await MysqlClient.connect(mariadb().conn);
  conn = client.raw;
  dir = await mkdtemp(join(tmpdir(), 'dump-quirks-'));
});

afterAll(async () => {
  for (const db of created) await conn?.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
  await client?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('plain mariadb-dump | mariadb', () => {
  it('strips comments from routine bodies unless the client runs with --comments', async () => {
    const db = await makeDatabase('quirk_comments', [
      'CREATE PROCEDURE p() BEGIN\n  -- why this exists\n  SELECT 1; /* block */\nEND',
    ]);
    const before = await fingerprintDatabase(conn, db);
    expect(before.procedures['p']?.definition).toContain('-- why this exists');

    await roundTrip(db, [], { comments: false });
    const lost = diffFingerprints(before, await fingerprintDatabase(conn, db));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/^procedure `p`: definition differs/);

    await conn.query(`DROP DATABASE ${quoteIdent(db)}`);
    created.pop();
    const again = await makeDatabase('quirk_comments', ['CREATE PROCEDURE p() BEGIN\n  -- why this exists\n  SELECT 1; /* block */\nEND']);
    await roundTrip(again, [], { comments: true });
    expect(diffFingerprints(before, await fingerprintDatabase(conn, again))).toEqual([]);
  });

  it('cannot restore a table whose DEFAULT is NEXTVAL(sequence) without --skip-add-locks', async () => {
    const setup = [
      'CREATE SEQUENCE s1',
      'CREATE TABLE uses_seq (id INT PRIMARY KEY DEFAULT NEXTVAL(s1), x INT)',
      'INSERT INTO uses_seq (x) VALUES (1), (2)',
    ];
    const db = await makeDatabase('quirk_nextval', setup);
    const before = await fingerprintDatabase(conn, db, { contentChecksum: true });
    await expect(roundTrip(db, [])).rejects.toThrow(/was not locked with LOCK TABLES/);

    await conn.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
    created.pop();
    const again = await makeDatabase('quirk_nextval', setup);
    await roundTrip(again, ['--skip-add-locks']);
    expect(diffFingerprints(before, await fingerprintDatabase(conn, again, { contentChecksum: true }))).toEqual([]);
  });

  it('loses system-versioned history unless dumped with --dump-history', async () => {
    const setup = [
      'CREATE TABLE hist (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING',
      'INSERT INTO hist VALUES (1, 1)',
      'UPDATE hist SET v = 2 WHERE id = 1',
    ];
    const db = await makeDatabase('quirk_history', setup);
    const before = await fingerprintDatabase(conn, db, { contentChecksum: true });
    await roundTrip(db, []);
    // Current rows (COUNT, content checksum) match; only CHECKSUM TABLE, which reads history rows, notices.
    expect(diffFingerprints(before, await fingerprintDatabase(conn, db, { contentChecksum: true }))).toEqual([
      expect.stringMatching(/^table `hist`: CHECKSUM TABLE expected "\d+", actual "\d+"$/),
    ]);

    await conn.query(`DROP DATABASE ${quoteIdent(db)}`);
    created.pop();
    const again = await makeDatabase('quirk_history', setup);
    const withHistory = await fingerprintDatabase(conn, again, { contentChecksum: true });
    await roundTrip(again, ['--dump-history']);
    expect(diffFingerprints(withHistory, await fingerprintDatabase(conn, again, { contentChecksum: true }))).toEqual([]);
  });
});
