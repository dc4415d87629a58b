// Database fingerprints against the real shared MariaDB: two loads of the
// fidelity fixture must fingerprint identically, a single changed row, trigger
// or view must be named and nothing else, and the fixture must survive the
// mariadb-dump | mariadb round trip the product wraps.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlClient } from '../../src/mysql/client.js';
import {
  diffFingerprints,
  fingerprintDatabase,
  fingerprintTable,
  quoteIdent,
  splitAutoIncrement,
  tableContentChecksum,
  type DbFingerprint,
  type Difference,
} from '../../src/verify/db-fingerprint.js';
import { DUMP_FLAGS, loadFidelity, loadSakila, renameSakila, runClient, runDump } from '../helpers/fixtures.js';
import { mariadb } from '../helpers/mariadb.js';

const run = randomBytes(3).toString('hex');
// One of the two copies has an awkward database name, to prove it is quoted everywhere.
const A = `fp_a_${run}`;
const B = `fp b\`ü ${run}`;
const created: string[] = [];

let client: MysqlClient;
let conn: Connection;
let url: string;
let expected: DbFingerprint;
let dir: string;

/** The objects a list of differences names (the text before the first ': '). */
function objectsNamed(diffs: Difference[]): string[] {
  return [...new Set(diffs.map((d) => /^(database|\w+ `(?:[^`]|``)*`)/.exec(d)?.[1] ?? `unparsed: ${d}`))];
}

async function exec(sql: string): Promise<void> {
  await conn.query(sql);
}

beforeAll(async () => {
  url = mariadb().url;
  client = await MysqlClient.connect(mariadb().conn);
  conn = client.raw;
  dir = await mkdtemp(join(tmpdir(), 'fp-test-'));
  created.push(A, B);
  await loadFidelity(url, A);
  await loadFidelity(url, B);
  expected = await fingerprintDatabase(conn, A, { contentChecksum: true });
});

afterAll(async () => {
  for (const db of created) await conn?.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
  await client?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fingerprint of the fidelity fixture', () => {
  it('covers every kind of object in the fixture', () => {
    expect(Object.keys(expected.tables)).toHaveLength(12);
    expect(Object.keys(expected.views).sort()).toEqual(['select', 'unicode view 文字', 'v `ticked`', 'v ∑ order totals']);
    expect(Object.keys(expected.procedures).sort()).toEqual(['proc `x` ü', 'select']);
    expect(Object.keys(expected.functions).sort()).toEqual(['fn ★ price', 'order']);
    expect(Object.keys(expected.triggers)).toHaveLength(4);
    expect(Object.keys(expected.events).sort()).toEqual(['event ⏰ nightly', 'evt`tick']);
    expect(Object.keys(expected.sequences).sort()).toEqual(['plain_seq', 'ticket seq']);

    const t = expected.tables;
    expect(t['no pk']).toMatchObject({ rowCount: 6, engine: 'InnoDB' });
    expect(t['empty']).toMatchObject({ rowCount: 0, autoIncrement: null });
    expect(t['legacy_myisam']?.engine).toBe('MyISAM');
    // Rows 40 and 41 were deleted at load time; the counter stays ahead, and out of the definition text.
    expect(t['all_types']?.autoIncrement).toBe(42);
    expect(t['all_types']?.createTable).not.toMatch(/AUTO_INCREMENT=/);
    expect(t['hits by day']?.createTable).toMatch(/PARTITION BY RANGE/);
    expect(expected.sequences['ticket seq']?.state.next_not_cached_value).toBe('150');
    expect(expected.triggers['trg after insert 2']?.actionOrder).toBe(2);
    // The database's own name never appears in a definition.
    expect(JSON.stringify({ ...expected, database: '' })).not.toContain(A);
  });

  it('is identical for two loads under different names', async () => {
    const actual = await fingerprintDatabase(conn, B, { contentChecksum: true });
    expect(actual.database).toBe(B);
    expect(diffFingerprints(expected, actual)).toEqual([]);
    expect({ ...actual, database: A }).toEqual(expected);
  });

  it('names exactly the changed row, trigger and view', async () => {
    const qB = quoteIdent(B);
    const diffNow = async (): Promise<Difference[]> =>
      diffFingerprints(expected, await fingerprintDatabase(conn, B, { contentChecksum: true }));

    await exec(`UPDATE ${qB}.\`no pk\` SET b = 'changed' WHERE b = 'dup' LIMIT 1`);
    let diffs = await diffNow();
    expect(objectsNamed(diffs)).toEqual(['table `no pk`']);
    expect(diffs.join('\n')).toMatch(/CHECKSUM TABLE expected "\d+", actual "\d+"/);
    expect(diffs.join('\n')).toMatch(/content checksum/);
    await exec(`UPDATE ${qB}.\`no pk\` SET b = 'dup' WHERE b = 'changed'`);
    expect(await diffNow()).toEqual([]);

    await exec(`DROP TRIGGER ${qB}.\`delete\``);
    await exec(
      `CREATE TRIGGER ${qB}.\`delete\` BEFORE DELETE ON ${qB}.\`order\` FOR EACH ROW\n` +
        "  INSERT INTO `audit log` (`what`) VALUES (CONCAT('removed order ', OLD.`id`))",
    );
    diffs = await diffNow();
    expect(objectsNamed(diffs)).toEqual(['trigger `delete`']);
    expect(diffs.join('\n')).toMatch(/definition differs at character \d+: expected .*delete order.*actual .*removed order/);

    await exec(`CREATE OR REPLACE VIEW ${qB}.\`v \`\`ticked\`\`\` AS SELECT \`id\`, \`parent\` FROM ${qB}.\`tree\` WHERE \`parent\` IS NULL`);
    diffs = await diffNow();
    expect(objectsNamed(diffs)).toEqual(['view `v ``ticked```', 'trigger `delete`']);

    await exec(`INSERT INTO ${qB}.\`empty\` (\`v\`) VALUES ('x')`);
    diffs = await diffNow();
    expect(diffs).toContain('table `empty`: row count expected 0, actual 1');
    expect(diffs).toContain('table `empty`: AUTO_INCREMENT expected none, actual 2');
    expect(diffFingerprints(expected, await fingerprintDatabase(conn, B), { ignore: ['autoIncrement', 'contentChecksum'] })).not.toContain(
      'table `empty`: AUTO_INCREMENT expected none, actual 2',
    );

    await exec(`DROP EVENT ${qB}.\`evt\`\`tick\``);
    await exec(`DROP PROCEDURE ${qB}.\`select\``);
    await exec(`DO NEXTVAL(${qB}.\`plain_seq\`)`);
    diffs = await diffNow();
    expect(diffs).toContain('event `evt``tick`: missing (expected to exist)');
    expect(diffs).toContain('procedure `select`: missing (expected to exist)');
    expect(diffs).toContain('sequence `plain_seq`: next_not_cached_value expected "2", actual "3"');
    expect(diffFingerprints(await fingerprintDatabase(conn, B), expected)).toContain('event `evt``tick`: unexpected (not in the expected database)');
    for (const d of diffs) expect(d).not.toContain('\n');

    // Put B back for the later tests.
    await loadFidelity(url, B);
    expect(await diffNow()).toEqual([]);
  });

  it('fingerprints a single table', async () => {
    const t = await fingerprintTable(conn, B, 'order `item`');
    expect(t).toEqual({ ...expected.tables['order `item`'], contentChecksum: undefined });
    expect(t.rowCount).toBe(5);
    expect(t.createTable).toContain('CONSTRAINT `fk item→order` FOREIGN KEY (`order_id`) REFERENCES `order` (`id`) ON DELETE CASCADE');
    await expect(fingerprintTable(conn, B, 'no such table')).rejects.toThrow(/table `no such table`/);
  });
});

describe('tableContentChecksum', () => {
  it('counts duplicate rows in a table without a key and ignores row order', async () => {
    const qB = quoteIdent(B);
    const before = await tableContentChecksum(conn, B, 'no pk');
    expect(before).toEqual({ rows: 6, checksum: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(before.checksum).toBe((await tableContentChecksum(conn, A, 'no pk')).checksum);

    // Removing two identical rows would cancel out in a BIT_XOR aggregate; here it must not.
    await exec(`DELETE FROM ${qB}.\`no pk\` WHERE a = 1 LIMIT 2`);
    const fewer = await tableContentChecksum(conn, B, 'no pk');
    expect(fewer.rows).toBe(4);
    expect(fewer.checksum).not.toBe(before.checksum);

    // Re-inserted at the end of the heap: same multiset of rows, same checksum.
    await exec(`INSERT INTO ${qB}.\`no pk\` VALUES (1, 'dup'), (1, 'dup')`);
    expect(await tableContentChecksum(conn, B, 'no pk')).toEqual(before);
    expect(await tableContentChecksum(conn, B, 'empty')).toEqual({ rows: 0, checksum: '0'.repeat(32) });
  });

  it('does not depend on the engine or the session time zone, and sees one byte in a 4 MiB blob', async () => {
    const qB = quoteIdent(B);
    const sums = async (db: string): Promise<string[]> =>
      Promise.all(['all_types', 'blobs', 'places', 'unicode 文字 ✎'].map(async (t) => (await tableContentChecksum(conn, db, t)).checksum));
    const original = await sums(A);

    await exec(`ALTER TABLE ${qB}.\`all_types\` ENGINE=MyISAM`);
    await exec(`ALTER TABLE ${qB}.\`blobs\` ENGINE=Aria`);
    await exec(`ALTER TABLE ${qB}.\`places\` ENGINE=MyISAM`);
    expect(await sums(B)).toEqual(original);
    const diffs = diffFingerprints(expected, await fingerprintDatabase(conn, B, { contentChecksum: true }), { ignore: ['checksum'] });
    expect(objectsNamed(diffs)).toEqual(['table `all_types`', 'table `blobs`', 'table `places`']);
    expect(diffs.join('\n')).not.toMatch(/content checksum|row count/);

    const other = await MysqlClient.connect(mariadb().conn);
    try {
      await other.exec(`SET time_zone = '+05:30'`);
      expect((await tableContentChecksum(other.raw, A, 'all_types')).checksum).toBe(original[0]);
    } finally {
      await other.close();
    }

    await exec(`UPDATE ${qB}.\`blobs\` SET \`data\` = INSERT(\`data\`, 3000000, 1, 'X') WHERE \`id\` = 5`);
    expect((await tableContentChecksum(conn, B, 'blobs')).checksum).not.toBe(original[1]);
  });
});

describe('dump round trip of the fidelity fixture', () => {
  it('survives mariadb-dump --databases | mariadb with an identical fingerprint', async () => {
    const db = `fp_rt_${run}`;
    created.push(db);
    await loadFidelity(url, db);
    const before = await fingerprintDatabase(conn, db, { contentChecksum: true });
    const file = join(dir, 'same-name.sql');
    await runDump(url, [...DUMP_FLAGS, '--databases', db], file);
    await exec(`DROP DATABASE ${quoteIdent(db)}`);
    await runClient(url, { inputFile: file });
    expect(diffFingerprints(before, await fingerprintDatabase(conn, db, { contentChecksum: true }))).toEqual([]);
  });

  it('survives a dump restored under another name', async () => {
    const target = `fp_rt2_${run}`;
    created.push(target);
    const file = join(dir, 'renamed.sql');
    await runDump(url, [...DUMP_FLAGS, A], file);
    await conn.query(`CREATE DATABASE ${quoteIdent(target)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await runClient(url, { database: target, inputFile: file });
    expect(diffFingerprints(expected, await fingerprintDatabase(conn, target, { contentChecksum: true }))).toEqual([]);
  });
});

describe('sakila', () => {
  it('loads under another name and fingerprints', async () => {
    const db = `fp_sakila_${run}`;
    created.push(db);
    await loadSakila(url, db);
    const fp = await fingerprintDatabase(conn, db);
    expect(Object.keys(fp.tables)).toHaveLength(16);
    expect(Object.keys(fp.views)).toHaveLength(7);
    expect(Object.keys(fp.triggers)).toHaveLength(6);
    expect(Object.keys(fp.procedures)).toHaveLength(3);
    expect(Object.keys(fp.functions)).toHaveLength(3);
    expect(fp.tables['rental']?.rowCount).toBe(16044);
    expect(fp.tables['payment']?.rowCount).toBe(16049);
    // MariaDB ignores MySQL 5.7 executable comments (/*!50705 location GEOMETRY …*/): no spatial column here.
    expect(fp.tables['address']?.createTable).not.toMatch(/`location`/);
    // The view that named `sakila.film` explicitly now points at the renamed database.
    expect(fp.views['actor_info']?.definition).toContain('from ((`film` `f`');
    expect(diffFingerprints(fp, await fingerprintDatabase(conn, db))).toEqual([]);
  });
});

describe('helpers', () => {
  it('quotes identifiers with backticks', () => {
    expect(quoteIdent('a`b c')).toBe('`a``b c`');
    expect(quoteIdent('文字')).toBe('`文字`');
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });

  it('takes AUTO_INCREMENT=N only from the table options', () => {
    const create = "CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT COMMENT ' AUTO_INCREMENT=3',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=17 DEFAULT CHARSET=utf8mb4";
    expect(splitAutoIncrement(create)).toEqual({
      autoIncrement: 17,
      createTable: "CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT COMMENT ' AUTO_INCREMENT=3',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    });
  });

  it('renames sakila only where the files name the database', () => {
    expect(renameSakila('DROP SCHEMA IF EXISTS sakila;\nCREATE SCHEMA sakila;\nUSE sakila;\nSELECT 1 FROM sakila.film;', 'x`y', 'schema')).toBe(
      'DROP SCHEMA IF EXISTS `x``y`;\nCREATE SCHEMA `x``y`;\nUSE `x``y`;\nSELECT 1 FROM `x``y`.film;',
    );
    expect(renameSakila("USE sakila;\nINSERT INTO c VALUES ('A@sakilacustomer.org');", 'z', 'data')).toBe(
      "USE `z`;\nINSERT INTO c VALUES ('A@sakilacustomer.org');",
    );
    expect(() => renameSakila('USE other;', 'z', 'data')).toThrow(/changed/);
  });
});
