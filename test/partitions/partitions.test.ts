// `dbops partitions maintain|restore-archive` against the real MariaDB and a file:// repository:
// the plan, a failed archive that drops nothing, archive → verify → drop of exactly the expired
// partitions, and an archive restored with identical rows.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDatePartitions, up } from '../../src/migrate/index.js';
import { seed } from '../../src/seed/index.js';
import { makeKeys, runCli, tempRepoUrl } from '../helpers/cli.js';
import { mariadb } from '../helpers/mariadb.js';
import { openFreshDb, type TestDb } from '../migrate/helpers.js';

const TODAY = '2026-11-27';
let d: TestDb;
let env: Record<string, string>;
const dirs: string[] = [];

async function dayNames(conn: Connection, table: string): Promise<string[]> {
  return (await listDatePartitions(conn, table)).map((p) => p.name);
}

/** Row count and an order-independent checksum of every column of a day range. */
async function rangeDigest(conn: Connection, from: string, to: string): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS('|', id, day, site_id, session_id, \`timestamp\`, page_path, page_title,
            IFNULL(time_on_page_ms, 'NULL'), is_entry))) AS h FROM pageviews WHERE day >= ? AND day < ?`,
    [from, to],
  );
  return `${rows[0]!.n}:${rows[0]!.h}`;
}

beforeAll(async () => {
  d = await openFreshDb('pt_main');
  await up(d.conn);
  // 10 days, 2026-11-18 .. 2026-11-27.
  await seed(d.conn, { sizeBytes: 1_500_000, sites: 1, days: 10, seed: 3, endDate: TODAY });
  const keys = await makeKeys();
  const repo = await tempRepoUrl();
  dirs.push(keys.dir, repo.dir);
  env = {
    ...keys.env,
    DBOPS_STORAGE_URL: repo.url,
    DBOPS_SOURCE_URL: mariadb().url,
    DBOPS_RETENTION_PAGEVIEWS: '5d',
    DBOPS_RETENTION_EVENTS: '7d',
    DBOPS_PARTITIONS_AHEAD_DAYS: '3',
  };
  const init = await runCli(['init'], env);
  expect(init.exitCode, init.stderr).toBe(0);
});
afterAll(async () => {
  await d?.close();
  for (const x of dirs) await rm(x, { recursive: true, force: true });
});

describe('dbops partitions', () => {
  const args = ['--database', 'pt_main', '--today', TODAY];
  let before: Record<string, string> = {};

  it('prints the plan without changing anything', async () => {
    const r = await runCli(['--json', 'partitions', 'maintain', ...args], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const { applied, plan } = JSON.parse(r.stdout);
    expect(applied).toBe(false);
    const pv = plan.tables.find((t: { table: string }) => t.table === 'pageviews');
    const ev = plan.tables.find((t: { table: string }) => t.table === 'events');
    expect(pv.cutoff).toBe('2026-11-22');
    expect(pv.expire.map((e: { partition: string }) => e.partition)).toEqual(['p20261118', 'p20261119', 'p20261120', 'p20261121']);
    expect(ev.expire.map((e: { partition: string }) => e.partition)).toEqual(['p20261118', 'p20261119']);
    expect(pv.create).toEqual(['p20261128', 'p20261129', 'p20261130']);
    expect(await dayNames(d.conn, 'pageviews')).toContain('p20261118');
    expect(await dayNames(d.conn, 'pageviews')).not.toContain('p20261128');
    before = { p20261120: await rangeDigest(d.conn, '2026-11-20', '2026-11-21'), p20261118: await rangeDigest(d.conn, '2026-11-18', '2026-11-19') };
    expect(before.p20261120).toMatch(/^[1-9]\d*:/);
  });

  it('a failed archive upload drops nothing', async () => {
    // A real storage fault at the commit of the upload: a directory where the object must be renamed
    // into place (tests run as root, which ignores a read-only chmod).
    const repoDir = env.DBOPS_STORAGE_URL!.replace('file://', '');
    await mkdir(join(repoDir, 'archive', 'pageviews', 'p20261118.sql.zst.age'), { recursive: true });
    const partsBefore = await dayNames(d.conn, 'pageviews');
    const r = await runCli(['partitions', 'maintain', '--apply', ...args], env);
    await rm(join(repoDir, 'archive'), { recursive: true });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^dbops: archiving pt_main\.pageviews partition p20261118 failed: .*nothing was dropped$/m);
    const after = await dayNames(d.conn, 'pageviews');
    for (const p of partsBefore) expect(after).toContain(p);
    expect(await rangeDigest(d.conn, '2026-11-18', '2026-11-19')).toBe(before.p20261118);
  });

  it('--apply archives, verifies and drops exactly the expired partitions', async () => {
    const r = await runCli(['--json', 'partitions', 'maintain', '--apply', ...args], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const pv = await dayNames(d.conn, 'pageviews');
    const ev = await dayNames(d.conn, 'events');
    expect(pv).toEqual(['p20261122', 'p20261123', 'p20261124', 'p20261125', 'p20261126', 'p20261127', 'p20261128', 'p20261129', 'p20261130', 'pmax']);
    expect(ev[0]).toBe('p20261120');
    expect(ev).toContain('p20261130');
    expect(await rangeDigest(d.conn, '2026-11-18', '2026-11-22')).toBe('0:null');
    const repoDir = env.DBOPS_STORAGE_URL!.replace('file://', '');
    expect((await readdir(join(repoDir, 'archive', 'pageviews'))).sort()).toEqual(
      ['p20261118', 'p20261119', 'p20261120', 'p20261121'].flatMap((p) => [`${p}.json`, `${p}.sql.zst.age`]),
    );
    // Nothing left to do on a second run.
    const again = await runCli(['--json', 'partitions', 'maintain', ...args], env);
    expect(JSON.parse(again.stdout).plan.tables.every((t: { expire: unknown[]; create: unknown[] }) => t.expire.length === 0 && t.create.length === 0)).toBe(true);
  });

  it('restore-archive brings a partition back with identical rows', async () => {
    const r = await runCli(['partitions', 'restore-archive', 'pageviews', 'p20261120', '--database', 'pt_main'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/partition re-created/);
    expect(await rangeDigest(d.conn, '2026-11-20', '2026-11-21')).toBe(before.p20261120);
    expect(await dayNames(d.conn, 'pageviews')).toContain('p20261120');
    const [rows] = await d.conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM pageviews PARTITION (p20261120)');
    expect(`${rows[0]!.n}:`).toBe(before.p20261120!.replace(/:.*/, ':'));
    // A second restore would duplicate rows: refused.
    const twice = await runCli(['partitions', 'restore-archive', 'pageviews', 'p20261120', '--database', 'pt_main'], env);
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toMatch(/already holds \d+ rows/);
  });
});
