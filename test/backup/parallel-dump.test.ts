// The largest tables are dumped by processes of their own (src/backup/parallel-dump.ts).
// Such a backup must still be ONE point in time while writes go on, restore the same,
// fail cleanly when one of those dumps dies, and fall back to one stream for an account
// that may not block commits.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freshDatabase, mariadb } from '../helpers/mariadb.js';
import { runCli, startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { execa } from 'execa';
import { fakeBin, withPath } from '../helpers/fake-tools.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { formatConnectionUrl } from '../../src/mysql/connection-url.js';

const DB = 'par_dump';
let keys: Awaited<ReturnType<typeof makeKeys>>;
let target: SandboxServer;

interface Part {
  key: string;
  kind: string;
  table?: string;
  rows: number | null;
  rawBytes: number;
  rawSha256: string | null;
}

async function manifestParts(repoDir: string, id: string): Promise<Part[]> {
  return JSON.parse(await readFile(join(repoDir, 'backups', id, 'manifest.json'), 'utf8')).parts as Part[];
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const conn = await mysql.createConnection({ uri: url });
  try {
    return (await conn.query(sql))[0] as T[];
  } finally {
    await conn.end();
  }
}

beforeAll(async () => {
  const db = await freshDatabase(DB);
  const conn = await mysql.createConnection({ uri: db.url });
  try {
    // Over the 64 MiB a table needs to get a dump of its own (~300 bytes a row in InnoDB).
    await conn.query('CREATE TABLE big (id INT AUTO_INCREMENT PRIMARY KEY, site INT NOT NULL, body VARCHAR(255) NOT NULL, KEY (site))');
    await conn.query("INSERT INTO big (site, body) SELECT seq % 50, REPEAT('b', 240) FROM seq_1_to_280000");
    await conn.query('CREATE TABLE ledger (id INT PRIMARY KEY, big_id INT NOT NULL)');
    await conn.query('CREATE TRIGGER big_site BEFORE INSERT ON big FOR EACH ROW SET NEW.site = NEW.site % 50');
    await conn.query('CREATE VIEW big_sites AS SELECT site, COUNT(*) AS n FROM big GROUP BY site');
    await conn.query('ANALYZE TABLE big');
  } finally {
    await conn.end();
  }
  [keys, target] = await Promise.all([makeKeys(), startSandboxServer({ binlog: false })]);
}, 180_000);

afterAll(async () => {
  await target?.stop();
});

async function newRepo(): Promise<{ dir: string; env: Record<string, string> }> {
  const repo = await tempRepoUrl();
  const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url };
  const init = await runCli(['init'], env);
  expect(init.exitCode, init.stderr).toBe(0);
  return { dir: repo.dir, env };
}

describe('the largest table dumped on its own', () => {
  it('is at the same point in time as the rest while writes go on, and restores', async () => {
    const { dir, env } = await newRepo();
    // Each transaction adds one row to big and one to ledger: a restore of two snapshots
    // taken at different moments would hold different numbers of each.
    const writer = await mysql.createConnection({ uri: `${mariadb().url}/${DB}` });
    let writing = true;
    let written = 0;
    const writes = (async () => {
      while (writing) {
        await writer.query('BEGIN');
        const [res] = (await writer.query("INSERT INTO big (site, body) VALUES (7, 'w')")) as unknown as [{ insertId: number }];
        await writer.query('INSERT INTO ledger VALUES (?, ?)', [res.insertId, res.insertId]);
        await writer.query('COMMIT');
        written++;
      }
    })();
    let backup;
    try {
      while (written < 20) await new Promise((r) => setTimeout(r, 20));
      backup = await runCli(['backup', '--databases', DB, '--json'], env);
    } finally {
      writing = false;
      await writes;
      await writer.end();
    }
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(backup.stderr).toMatch(/largest tables dumped by their own processes/);
    const id = JSON.parse(backup.stdout).id as string;

    const parts = await manifestParts(dir, id);
    const big = parts.find((p) => p.kind === 'table' && p.table === 'big')!;
    // Node never read that part's bytes: zstd counted them; there is no raw hash or row count.
    expect(big.rawSha256).toBeNull();
    expect(big.rows).toBeNull();
    expect(big.rawBytes).toBeGreaterThan(60_000_000);
    const ledger = parts.find((p) => p.table === 'ledger')!;
    expect(ledger.rawSha256).toMatch(/^[0-9a-f]{64}$/);

    const verify = await runCli(['verify', id], env);
    expect(verify.exitCode, verify.stderr).toBe(0);

    // A restore test still counts that table's rows: those its part held, counted as they were loaded.
    const test = await runCli(['restore-test', '--backup', id, '--depth', 'restore', '--sandbox', 'process', '--json'], env);
    expect(test.exitCode, test.stderr).toBe(0);
    const checks = (JSON.parse(test.stdout) as { checks: Array<{ name: string; object?: string; expected?: unknown; actual?: unknown; ok: boolean }> }).checks;
    const bigCount = checks.find((c) => c.object === `${DB}.big`);
    expect(bigCount).toMatchObject({ name: 'part-row-count', ok: true });
    expect(bigCount!.expected).toBeGreaterThanOrEqual(280_020);
    expect(bigCount!.actual).toBe(bigCount!.expected);
    expect(checks.find((c) => c.object === `${DB}.ledger`)).toMatchObject({ name: 'row-count', ok: true });

    const restore = await runCli(['restore', id, '--target', target.url], env);
    expect(restore.exitCode, restore.stderr).toBe(0);
    const restored = `${target.url}/${DB}`;
    const [counts] = await query<{ big: number; ledger: number; orphans: number }>(
      restored,
      "SELECT (SELECT COUNT(*) FROM big WHERE body = 'w') AS big, (SELECT COUNT(*) FROM ledger) AS ledger, (SELECT COUNT(*) FROM ledger LEFT JOIN big ON big.id = ledger.big_id WHERE big.id IS NULL) AS orphans",
    );
    expect(Number(counts!.big)).toBeGreaterThan(0);
    expect(Number(counts!.big)).toBe(Number(counts!.ledger));
    expect(Number(counts!.orphans)).toBe(0);
    // The table's own dump carries its trigger; the main dump the view over it.
    expect(await query(restored, "SHOW TRIGGERS LIKE 'big'")).toHaveLength(1);
    const [sites] = await query<{ n: number }>(restored, 'SELECT COUNT(*) AS n FROM big_sites');
    expect(Number(sites!.n)).toBe(50);
  });

  it('a table dump that dies fails the backup: exit 1, nothing listed, nothing left', async () => {
    const { dir, env } = await newRepo();
    const real = findTool('mariadb-dump')!;
    // Only the dump of `big` (its last argument) dies, after 1 MB; the main dump runs as it is.
    const fake = await fakeBin(
      'mariadb-dump',
      `#!/bin/sh\nfor last; do :; done\nif [ "$last" = big ]; then "${real}" "$@" | dd bs=1000000 count=1 iflag=fullblock 2>/dev/null; kill -9 $$; fi\nexec "${real}" "$@"\n`,
    );
    const r = await runCli(['backup', '--databases', DB], { ...env, PATH: withPath(fake) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/mariadb-dump of par_dump\.big.*killed by SIGKILL/);
    expect(r.stdout).toBe('');
    const list = await runCli(['list', '--json'], env);
    expect(JSON.parse(list.stdout).backups).toEqual([]);
    // No part is left; only repo.json and the evidence log's record of the failure.
    const files = await readdir(dir, { recursive: true, withFileTypes: true });
    expect(files.filter((f) => f.isFile() && !f.parentPath.includes('/evidence')).map((f) => f.name)).toEqual(['repo.json']);
  });

  it('SIGTERM stops a table dump that runs on after the main dump: at once, nothing listed, nothing left', async () => {
    const { dir, env } = await newRepo();
    const real = findTool('mariadb-dump')!;
    // The dump of `big` writes its table, then holds its output open (as a long table's dump
    // would go on) while the main dump has ended.
    const fake = await fakeBin('mariadb-dump', `#!/bin/sh\nfor last; do :; done\nif [ "$last" = big ]; then "${real}" "$@"; exec sleep 97; fi\nexec "${real}" "$@"\n`);
    const run = startCli(['backup', '--databases', DB], { ...env, PATH: withPath(fake) });
    const holding = async (): Promise<boolean> => (await execa('pgrep', ['-f', '^sleep 97$'], { reject: false })).exitCode === 0;
    for (let i = 0; i < 300 && !(await holding()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await holding()).toBe(true);
    const signalled = Date.now();
    run.kill('SIGTERM');
    const r = await run;
    // Before, only the main dump heard the signal and the backup kept waiting on that dump
    // (until execa's SIGKILL 5 s later, which left the dump running).
    expect(Date.now() - signalled).toBeLessThan(30_000);
    expect(await holding()).toBe(false);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/interrupted by SIGTERM; nothing from this run was committed/);
    const list = await runCli(['list', '--json'], env);
    expect(JSON.parse(list.stdout).backups).toEqual([]);
    // No part is left; only repo.json and the evidence log's record of the failure.
    const files = await readdir(dir, { recursive: true, withFileTypes: true });
    expect(files.filter((f) => f.isFile() && !f.parentPath.includes('/evidence')).map((f) => f.name)).toEqual(['repo.json']);
  });

  it('an account that may not block commits (no RELOAD) gets a one-stream backup', async () => {
    const { dir, env } = await newRepo();
    const root = mariadb();
    await query(root.url, "CREATE USER IF NOT EXISTS 'par_noreload'@'%' IDENTIFIED BY 'pw-par'");
    await query(root.url, `GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON ${DB}.* TO 'par_noreload'@'%'`);
    const url = formatConnectionUrl({ ...root.conn, user: 'par_noreload', password: 'pw-par' });
    const r = await runCli(['backup', '--databases', DB, '--json'], { ...env, DBOPS_SOURCE_URL: url, DBOPS_BACKUP_ACCOUNTS: 'false' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/BACKUP STAGE needs RELOAD.*dumping in one stream/);
    const id = JSON.parse(r.stdout).id as string;
    const parts = await manifestParts(dir, id);
    const big = parts.find((p) => p.table === 'big')!;
    expect(big.rawSha256).toMatch(/^[0-9a-f]{64}$/);
    // The table dump prepared before the block was found impossible left nothing behind.
    const stored = (await readdir(join(dir, 'backups', id, 'parts'))).sort();
    expect(stored).toEqual(parts.map((p) => p.key.split('/').pop()).sort());
    expect(big.rows).toBeGreaterThanOrEqual(280_000);
  });
});
