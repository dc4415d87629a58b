// `dbops seed` as users run it: the same seed twice gives identical tables (CHECKSUM TABLE), and the
// load rate it reports is visible in the test output.
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { up } from '../../src/migrate/index.js';
import { runCli } from '../helpers/cli.js';
import { mariadb } from '../helpers/mariadb.js';
import { openFreshDb, type TestDb } from '../migrate/helpers.js';

const TABLES = 'sites, sessions, pageviews, events, daily_stats, page_stats, referrer_stats, realtime_visitors';
const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.close();
});

async function checksums(d: TestDb): Promise<string[]> {
  const [rows] = await d.conn.query<RowDataPacket[]>(`CHECKSUM TABLE ${TABLES}`);
  return rows.map((r) => `${String(r.Table).split('.').pop()}=${r.Checksum}`);
}

describe('dbops seed', () => {
  it('the same seed twice gives identical checksums', async () => {
    const env = { DBOPS_SOURCE_URL: mariadb().url };
    const results = [];
    for (const name of ['sc_one', 'sc_two']) {
      const d = await openFreshDb(name);
      dbs.push(d);
      await up(d.conn);
      const r = await runCli(['--json', 'seed', '--size', '12MB', '--days', '10', '--seed', '42', '--database', name, '--no-binlog'], env);
      expect(r.exitCode, r.stderr).toBe(0);
      results.push(JSON.parse(r.stdout) as { dataBytes: number; loadMBps: number; rows: Record<string, number> });
    }
    console.log(`dbops seed --size 12MB: ${(results[0]!.dataBytes / 1e6).toFixed(1)} MB table data, raw load ${results.map((r) => r.loadMBps.toFixed(1)).join(' / ')} MB/s`);
    expect(results[0]!.rows.pageviews).toBeGreaterThan(10_000);
    expect(await checksums(dbs[1]!)).toEqual(await checksums(dbs[0]!));
    // Bad size: a usage error.
    const bad = await runCli(['seed', '--size', 'lots', '--database', 'sc_one'], env);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/size "lots" is not understood/);
  });
});
