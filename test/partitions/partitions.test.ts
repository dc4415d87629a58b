// `dbops partitions maintain|restore-archive` against the real MariaDB and a file:// repository:
// the plan, a failed archive that drops nothing, a failed manifest that leaves no orphan, archive →
// verify → drop of exactly the expired partitions with sessions, realtime_visitors and salts kept
// within their windows, an archive restored with identical rows, consecutive archived days restored
// oldest first, a second database archiving into the same repository while two runs race, and
// archive retention.
import { mkdir, readdir, rm, statfs, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatePartitions, listDatePartitions, up } from '../../src/migrate/index.js';
import { execa } from 'execa';
import { tempDir } from '../helpers/temp-dirs.js';
import { seed } from '../../src/seed/index.js';
import { makeKeys, runCli, startCli, tempRepoUrl } from '../helpers/cli.js';
import { mariadb } from '../helpers/mariadb.js';
import { openFreshDb, type TestDb } from '../migrate/helpers.js';

const TODAY = '2026-11-27';
let d: TestDb;
let env: Record<string, string>;
const dirs: string[] = [];

interface AdminLine {
  adminAction?: string;
  target?: string;
  details?: Record<string, unknown>;
}

/** The administrative actions a run logged (JSON log lines on stderr). */
function adminActions(stderr: string): AdminLine[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AdminLine)
    .filter((a) => a.adminAction);
}

async function dayNames(conn: Connection, table: string): Promise<string[]> {
  return (await listDatePartitions(conn, table)).map((p) => p.name);
}

/** Row count and an order-independent checksum of every column of a day range. */
async function rangeDigest(conn: Connection, from: string, to: string): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS('|', id, day, site_id, HEX(session_id), \`timestamp\`, page_path, page_title,
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
    DBOPS_RETENTION_SESSIONS: '5d',
    DBOPS_PARTITIONS_AHEAD_DAYS: '3',
  };
  // Presence seen 3 h and 30 min before the pinned clock (noon of TODAY, retention 1h), and two
  // salts: one of 7 days ago (must go) and yesterday's (kept).
  await d.conn.query(
    `INSERT INTO realtime_visitors (site_id, user_hash, session_id, page_path, device, last_seen_at) VALUES
       (1, UNHEX(SHA2('gone', 256)), UNHEX(REPEAT('ab', 16)), '/', 'desktop', '${TODAY} 09:00:00'),
       (1, UNHEX(SHA2('here', 256)), UNHEX(REPEAT('cd', 16)), '/', 'desktop', '${TODAY} 11:30:00')`,
  );
  await d.conn.query(`INSERT INTO visitor_salts (day, salt) VALUES ('2026-11-20', RANDOM_BYTES(32)), ('2026-11-26', RANDOM_BYTES(32))`);
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
    await mkdir(join(repoDir, 'archive', 'pt_main', 'pageviews', 'p20261118.sql.zst.age'), { recursive: true });
    const partsBefore = await dayNames(d.conn, 'pageviews');
    const r = await runCli(['partitions', 'maintain', '--apply', ...args], env);
    await rm(join(repoDir, 'archive'), { recursive: true });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^dbops: archiving pt_main\.pageviews partition p20261118 failed: .*nothing was dropped$/m);
    const after = await dayNames(d.conn, 'pageviews');
    for (const p of partsBefore) expect(after).toContain(p);
    expect(await rangeDigest(d.conn, '2026-11-18', '2026-11-19')).toBe(before.p20261118);
    // The other tables' retention still ran, each deletion on record with its count and range.
    const actions = adminActions(r.stderr);
    const sessions = actions.find((a) => a.adminAction === 'retention.delete' && a.target === 'pt_main.sessions')!;
    expect(sessions.details).toMatchObject({ range: { from: expect.stringMatching(/^2026-11-18 /), before: '2026-11-22 00:00:00.000' } });
    expect(Number(sessions.details!.rows)).toBeGreaterThan(0);
    expect(actions.find((a) => a.target === 'pt_main.realtime_visitors')!.details).toMatchObject({ rows: 1, range: { from: `${TODAY} 09:00:00.000`, before: `${TODAY} 11:00:00.000` } });
    expect(actions.find((a) => a.adminAction === 'visitor-salt.destroy')!.details).toEqual({ days: ['2026-11-20'] });
  });

  it('a manifest that cannot be written (disk full) leaves no orphan object, and says so', async () => {
    // A real full disk: a tmpfs (tests run as root) shrunk after `init` to what it holds plus one
    // page, which takes an empty partition's archive object but not its manifest as well.
    const o = await openFreshDb('pt_orphan');
    const mnt = await tempDir('dbops-full-repo-');
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      await up(o.conn);
      for (const t of ['pageviews', 'events']) await ensureDatePartitions(o.conn, t, '2026-11-20', '2026-11-22');
      const full = { ...env, DBOPS_STORAGE_URL: `file://${mnt}`, DBOPS_RETENTION_PAGEVIEWS: '1d', DBOPS_RETENTION_EVENTS: '1d' };
      expect((await runCli(['init'], full)).exitCode).toBe(0);
      const fs = await statfs(mnt);
      await execa('mount', ['-o', `remount,size=${(fs.blocks - fs.bfree + 1) * fs.bsize}`, mnt]);
      const r = await runCli(['partitions', 'maintain', '--apply', '--database', 'pt_orphan', '--today', TODAY], full);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        /^dbops: archiving pt_orphan\.pageviews partition p20261120 failed: writing its manifest archive\/pt_orphan\/pageviews\/p20261120\.json: .*the archive object was removed again — nothing was dropped/m,
      );
      expect(r.stderr).not.toMatch(/unexpected error/);
      const left: string[] = [];
      for (const t of ['pageviews', 'events']) left.push(...(await readdir(join(mnt, 'archive', 'pt_orphan', t)).catch(() => [] as string[])));
      expect(left).toEqual([]);
      expect(await dayNames(o.conn, 'pageviews')).toContain('p20261120');
    } finally {
      await execa('umount', [mnt]).catch(() => undefined);
      await o.close();
    }
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
    expect((await readdir(join(repoDir, 'archive', 'pt_main', 'pageviews'))).sort()).toEqual(
      ['p20261118', 'p20261119', 'p20261120', 'p20261121'].flatMap((p) => [`${p}.json`, `${p}.sql.zst.age`]),
    );
    // Sessions and presence are kept within their windows too, and every deletion is on record.
    const [left] = await d.conn.query<RowDataPacket[]>(
      `SELECT (SELECT DATE_FORMAT(MIN(started_at), '%Y-%m-%d') FROM sessions) AS s, (SELECT COUNT(*) FROM realtime_visitors WHERE last_seen_at < '${TODAY} 11:00:00') AS rv,
              (SELECT COUNT(*) FROM realtime_visitors WHERE user_hash = UNHEX(SHA2('here', 256))) AS here,
              (SELECT GROUP_CONCAT(DATE_FORMAT(day, '%Y-%m-%d') ORDER BY day) FROM visitor_salts) AS salts`,
    );
    expect(left[0]).toEqual({ s: '2026-11-22', rv: 0, here: 1, salts: '2026-11-26,2026-11-27,2026-11-28' });
    const drops = adminActions(r.stderr).filter((a) => a.adminAction === 'partition.drop' && a.target === 'pt_main.pageviews');
    expect(drops.map((a) => [a.details!.partition, a.details!.range])).toEqual([
      ['p20261118', { column: 'day', from: '2026-11-18', to: '2026-11-19' }],
      ['p20261119', { column: 'day', from: '2026-11-19', to: '2026-11-20' }],
      ['p20261120', { column: 'day', from: '2026-11-20', to: '2026-11-21' }],
      ['p20261121', { column: 'day', from: '2026-11-21', to: '2026-11-22' }],
    ]);
    for (const a of drops) expect(Number(a.details!.rows)).toBeGreaterThan(0);
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

describe('archives across runs, databases and time', () => {
  it('D2: consecutive days archived by daily runs restore oldest first', async () => {
    const o = await openFreshDb('pt_d2');
    try {
      await up(o.conn);
      await seed(o.conn, { sizeBytes: 600_000, sites: 1, days: 6, seed: 5, endDate: TODAY }); // 11-22 .. 11-27
      const e = { ...env, DBOPS_RETENTION_PAGEVIEWS: '3d', DBOPS_RETENTION_EVENTS: '400d', DBOPS_RETENTION_SESSIONS: '400d' };
      const digests = [await rangeDigest(o.conn, '2026-11-22', '2026-11-23'), await rangeDigest(o.conn, '2026-11-23', '2026-11-24')];
      // Each day's run archives the then-first partition (open below in the table).
      for (const day of ['2026-11-26', '2026-11-27']) {
        const r = await runCli(['partitions', 'maintain', '--apply', '--database', 'pt_d2', '--today', day], e);
        expect(r.exitCode, r.stderr).toBe(0);
      }
      expect((await dayNames(o.conn, 'pageviews'))[0]).toBe('p20261124');
      for (const p of ['p20261122', 'p20261123']) {
        const r = await runCli(['partitions', 'restore-archive', 'pageviews', p, '--database', 'pt_d2'], e);
        expect(r.exitCode, r.stderr).toBe(0);
      }
      expect([await rangeDigest(o.conn, '2026-11-22', '2026-11-23'), await rangeDigest(o.conn, '2026-11-23', '2026-11-24')]).toEqual(digests);
    } finally {
      await o.close();
    }
  });

  it('D4 and the lock: a second database archives the same partitions into the same repository while two runs race', async () => {
    const o = await openFreshDb('pt_other');
    try {
      await up(o.conn);
      await seed(o.conn, { sizeBytes: 1_500_000, sites: 1, days: 10, seed: 3, endDate: TODAY }); // pt_main's days and partitions
      const args = ['--json', 'partitions', 'maintain', '--apply', '--database', 'pt_other', '--today', TODAY];
      const [a, b] = await Promise.all([startCli(args, env), startCli(args, env)]);
      expect([a.exitCode, b.exitCode], `${String(a.stderr)}\n${String(b.stderr)}`).toEqual([0, 0]);
      const dropped = [a, b].flatMap((x) => (JSON.parse(String(x.stdout)) as { results: Array<{ table: string; dropped: string[] }> }).results.filter((t) => t.table === 'pageviews').flatMap((t) => t.dropped));
      expect(dropped.sort()).toEqual(['p20261118', 'p20261119', 'p20261120', 'p20261121']); // once each
      expect((await dayNames(o.conn, 'pageviews'))[0]).toBe('p20261122');
      const repoDir = env.DBOPS_STORAGE_URL!.replace('file://', '');
      expect((await readdir(join(repoDir, 'archive', 'pt_other', 'pageviews'))).filter((f) => f.endsWith('.json')).sort()).toEqual(
        ['p20261118', 'p20261119', 'p20261120', 'p20261121'].map((p) => `${p}.json`),
      );
    } finally {
      await o.close();
    }
  });

  it('archives past retention.archives and orphaned objects are deleted, on record; other databases keep theirs', async () => {
    const repoDir = env.DBOPS_STORAGE_URL!.replace('file://', '');
    const orphan = join(repoDir, 'archive', 'pt_main', 'pageviews', 'p20200101.sql.zst.age');
    await writeFile(orphan, 'left by a run that died before its manifest');
    const old = new Date(Date.now() - 10 * 86_400_000);
    await utimes(orphan, old, old);
    // Three days from now, archives made today are older than the 1d kept.
    const later = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    const r = await runCli(['partitions', 'maintain', '--apply', '--database', 'pt_main', '--today', later], { ...env, DBOPS_RETENTION_ARCHIVES: '1d' });
    expect(r.exitCode, r.stderr).toBe(0);
    const deleted = adminActions(r.stderr).filter((a) => a.adminAction === 'partition.archive.delete');
    expect(deleted.filter((a) => a.target === 'pt_main.pageviews').map((a) => a.details!.partition).sort()).toEqual(['p20261118', 'p20261119', 'p20261120', 'p20261121']);
    expect(adminActions(r.stderr).filter((a) => a.adminAction === 'partition.archive.orphan-removed').map((a) => a.details!.key)).toEqual(['archive/pt_main/pageviews/p20200101.sql.zst.age']);
    expect(existsSync(orphan)).toBe(false);
    for (const p of ['p20261118', 'p20261121']) expect(existsSync(join(repoDir, 'archive', 'pt_main', 'pageviews', `${p}.json`))).toBe(false);
    expect(existsSync(join(repoDir, 'archive', 'pt_other', 'pageviews', 'p20261118.json'))).toBe(true);
  });
});
