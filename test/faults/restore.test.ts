// Faults around a restore, against the real MariaDB and real tools: damaged, missing and
// swapped objects and wrong keys (verify exits 3; a restore over existing tables changes
// nothing, since every part is checked before anything is dropped), a corrupt part found
// mid-load (the error says exactly what the target was left with), and dbops or one of its
// children killed mid-load. Every case checks the outcome, that the target is as it was or
// restores cleanly again, and that no process of the run outlives it.
//
// To hold a restore mid-load the test keeps a transaction open that has read the target's
// biggest table (its metadata lock): the part's DROP TABLE then waits, and its client, age
// and zstd with it. (LOCK TABLES … WRITE would stop the restore earlier, at CREATE DATABASE.)
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { mariadb, freshDatabase } from '../helpers/mariadb.js';
import { runCli, startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { descendants, newMark, signal, survivors } from '../helpers/processes.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import { quoteIdent } from '../../src/verify/quote-ident.js';

const DB = 'faults_restore';
/** The restore target: the same server, another schema. */
const T = 'faults_restore_t';
let keys: Awaited<ReturnType<typeof makeKeys>>;
let base: { dir: string; url: string };
let id: string;
let common: Record<string, string>;
let manifest: { parts: Array<{ key: string; kind: string; table?: string }> };

const RESTORE = (schema = T): string[] => ['restore', 'latest', '--database', DB, '--into-schema', schema];

beforeAll(async () => {
  keys = await makeKeys();
  const db = await freshDatabase(DB);
  await withConnection(db.conn, async (c) => {
    await c.exec('CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(20))');
    await c.exec("INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    await c.exec('CREATE TABLE medium (id INT PRIMARY KEY, v VARCHAR(80))');
    await c.exec('INSERT INTO medium SELECT seq, SHA2(seq, 256) FROM seq_1_to_2000');
    // ~17 MB of random hex (stored ~8 MB): far more than every pipe and buffer between storage
    // and client hold, so age and zstd of the held part are still running while its DROP waits.
    await c.exec('CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(200))');
    await c.exec('INSERT INTO big SELECT seq, HEX(RANDOM_BYTES(64)) FROM seq_1_to_120000');
  });
  base = await tempRepoUrl();
  common = { ...keys.env, DBOPS_SOURCE_URL: mariadb().url, DBOPS_SOURCE_DATABASES: DB, DBOPS_BACKUP_ACCOUNTS: 'false', DBOPS_COMPRESSION_LEVEL: '1', DBOPS_RESTORE_TARGET_URL: mariadb().url };
  expect((await runCli(['init'], { ...common, DBOPS_STORAGE_URL: base.url })).exitCode).toBe(0);
  const b = await runCli(['backup'], { ...common, DBOPS_STORAGE_URL: base.url });
  expect(b.exitCode, b.stderr).toBe(0);
  id = b.stdout.trim();
  manifest = JSON.parse(await readFile(join(base.dir, 'backups', id, 'manifest.json'), 'utf8'));
  // The target holds a restored copy: every case below must leave it as it is, or restore it again.
  const r = await runCli(RESTORE(), { ...common, DBOPS_STORAGE_URL: base.url });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(await contents(T)).toEqual(await contents(DB));
});

afterAll(async () => {
  await withConnection(mariadb().conn, async (c) => {
    await c.exec(`DROP DATABASE IF EXISTS ${quoteIdent(T)}`);
    await c.exec('DROP DATABASE IF EXISTS faults_restore_e');
  });
});

/** Per table: row count and CHECKSUM TABLE. */
async function contents(schema: string): Promise<Record<string, string>> {
  return withConnection(mariadb().conn, async (c) => {
    const out: Record<string, string> = {};
    const tables = await c.query<{ t: string }>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY t', [schema]);
    for (const { t } of tables) {
      const [sum] = await c.query<{ Checksum: string }>(`CHECKSUM TABLE ${quoteIdent(schema)}.${quoteIdent(t)}`);
      const [n] = await c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${quoteIdent(schema)}.${quoteIdent(t)}`);
      out[t] = `${n!.n} rows, checksum ${sum!.Checksum}`;
    }
    return out;
  });
}

const errorLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => l && !l.startsWith('{'));

async function copyOfBase(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = join(await tempDir('dbops-fault-repo-'), 'repo');
  await cp(base.dir, dir, { recursive: true });
  return { dir, env: { ...common, DBOPS_STORAGE_URL: `file://${dir}` } };
}

const partOf = (table: string): string => manifest.parts.find((p) => p.kind === 'table' && p.table === table)!.key;

/** A damaged repository: verify exits 3 naming `key`; restore --force exits 3 and changes nothing. */
async function expectRefusedUnchanged(env: Record<string, string>, keys: string[], problem: RegExp): Promise<void> {
  const v = await runCli(['verify', id], env);
  expect(v.exitCode, v.stderr).toBe(3);
  for (const key of keys) expect(v.stdout + v.stderr).toContain(key);
  const before = await contents(T);
  const r = await runCli([...RESTORE(), '--force'], env);
  expect(r.exitCode, r.stderr).toBe(3);
  const lines = errorLines(r.stderr);
  expect(lines).toHaveLength(1);
  expect(keys.some((k) => lines[0]!.includes(k)), lines[0]).toBe(true);
  expect(lines[0]).toMatch(problem);
  expect(lines[0]).toMatch(/nothing on the target was changed/);
  expect(await contents(T)).toEqual(before);
}

describe('damaged, missing, swapped objects and wrong keys', () => {
  it('a flipped byte', async () => {
    const repo = await copyOfBase();
    const key = partOf('big');
    const file = join(repo.dir, key);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(file, bytes);
    await expectRefusedUnchanged(repo.env, [key], /differs from the manifest|altered/);
  });

  it('a truncated object', async () => {
    const repo = await copyOfBase();
    const key = partOf('medium');
    const file = join(repo.dir, key);
    await truncate(file, Math.floor((await readFile(file)).length / 2));
    await expectRefusedUnchanged(repo.env, [key], /differs from the manifest|altered/);
  });

  it('a deleted object', async () => {
    const repo = await copyOfBase();
    const key = partOf('small');
    await rm(join(repo.dir, key));
    await expectRefusedUnchanged(repo.env, [key], /is missing from the repository/);
  });

  it('two objects swapped', async () => {
    const repo = await copyOfBase();
    const [a, b] = [partOf('small'), partOf('medium')];
    await rename(join(repo.dir, a), join(repo.dir, `${a}.x`));
    await rename(join(repo.dir, b), join(repo.dir, a));
    await rename(join(repo.dir, `${a}.x`), join(repo.dir, b));
    await expectRefusedUnchanged(repo.env, [a, b], /differs from the manifest|altered/);
  });

  it('a wrong age identity: exit 2 naming the key, the target unchanged', async () => {
    const repo = await copyOfBase();
    const other = await makeKeys();
    const before = await contents(T);
    const r = await runCli([...RESTORE(), '--force'], { ...repo.env, DBOPS_AGE_IDENTITY_FILE: other.env.DBOPS_AGE_IDENTITY_FILE });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/cannot open this backup: it was encrypted to other recipients; use the matching age\.key/)]);
    expect(await contents(T)).toEqual(before);
  });

  it('a signing key that is not the one pinned: exit 3, the target unchanged', async () => {
    const repo = await copyOfBase();
    const other = await makeKeys();
    const before = await contents(T);
    const r = await runCli([...RESTORE(), '--force'], { ...repo.env, DBOPS_SIGNING_PUBLIC_KEY_FILE: join(other.dir, 'signing.pub') });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(await contents(T)).toEqual(before);
  });

  it('into an empty target, a part found corrupt mid-load: exit 3 saying exactly what the target was left with', async () => {
    const repo = await copyOfBase();
    const key = partOf('big');
    const file = join(repo.dir, key);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length * 0.8)]! ^= 0x01;
    await writeFile(file, bytes);
    await withConnection(mariadb().conn, (c) => c.exec('DROP DATABASE IF EXISTS faults_restore_e'));
    const r = await runCli(RESTORE('faults_restore_e'), repo.env);
    expect(r.exitCode, r.stderr).toBe(3);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(key);
    // Everything this restore created is gone again, and the message says so (no half-loaded table is left to describe).
    expect(lines[0]).toMatch(/the object was altered; removed what this restore created: databases faults_restore_e; nothing that was on the target before was dropped$/);
    expect(await withConnection(mariadb().conn, (c) => c.listUserDatabases())).not.toContain('faults_restore_e');
  });
});

describe('a restore killed mid-load', () => {
  /** Start a restore --force whose load of `big` waits behind our lock; `fault` runs while it waits. */
  async function heldRestore(fault: (run: ReturnType<typeof startCli>, mark: string, unlock: () => Promise<void>) => Promise<void>): Promise<void> {
    const repo = await copyOfBase();
    // A case that failed may have left the target half restored: start from the restored copy.
    if (JSON.stringify(await contents(T)) !== JSON.stringify(await contents(DB))) expect((await runCli([...RESTORE(), '--force'], repo.env)).exitCode).toBe(0);
    const locker = await MysqlClient.connect(mariadb().conn);
    let locked = true;
    const unlock = async (): Promise<void> => {
      if (!locked) return;
      locked = false;
      await locker.exec('COMMIT');
    };
    try {
      await locker.exec('START TRANSACTION');
      await locker.query(`SELECT COUNT(*) AS n FROM ${quoteIdent(T)}.big`);
      // A connection of an earlier case's killed client may still wait on the server: only this run's count.
      const earlier = (await locker.query<{ id: number }>('SELECT ID AS id FROM information_schema.PROCESSLIST')).map((p) => Number(p.id));
      const mark = newMark();
      const run = startCli([...RESTORE(), '--force'], { ...repo.env, FAULT_MARK: mark });
      for (;;) {
        const waiting = await locker.query<{ id: number }>("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DROP TABLE IF EXISTS `big`%' AND STATE LIKE 'Waiting for table metadata lock%'");
        if (waiting.some((p) => !earlier.includes(Number(p.id)))) break;
        if (run.exitCode !== null && run.exitCode !== undefined) throw new Error(`the restore ended before it reached the lock: ${String((await run).stderr)}`);
        await delay(20);
      }
      await fault(run, mark, unlock);
    } finally {
      await unlock();
      await locker.close();
    }
    // A killed client's statement may still run on the server: the next step starts once it is done.
    await withConnection(mariadb().conn, async (c) => {
      for (let i = 0; i < 300; i++) {
        const left = await c.query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND (INFO LIKE 'DROP TABLE IF EXISTS `big`%' OR INFO LIKE '%dbops-load%')");
        if (Number(left[0]!.n) === 0) return;
        await delay(100);
      }
    });
    // Whatever was left, the same restore brings the target back.
    const again = await runCli([...RESTORE(), '--force'], repo.env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await contents(T)).toEqual(await contents(DB));
  }

  it('kill -9 of dbops: its programs end once the server lets go of the client; a rerun restores', async () => {
    await heldRestore(async (run, mark, unlock) => {
      run.kill('SIGKILL');
      await run;
      await unlock();
      expect((await survivors(mark)).map((p) => p.comm)).toEqual([]);
    });
  });

  it('SIGTERM of dbops: exit 1 saying what was left, nothing left running', async () => {
    await heldRestore(async (run, mark) => {
      run.kill('SIGTERM');
      const r = await run;
      expect(r.exitCode).toBe(1);
      expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/interrupted by SIGTERM; the restore stopped with \d+ of \d+ parts applied; faults_restore_t\.big(, [^;]*)? (is|are) dropped or partly loaded/)]);
      expect((await survivors(mark)).map((p) => p.comm)).toEqual([]);
    });
  });

  for (const victim of ['age', 'zstd', 'mariadb']) {
    it(`kill -9 of ${victim}: exit 1 naming it (not damage), nothing left running`, async () => {
      await heldRestore(async (run, mark, unlock) => {
        // Every one of that name: the held part's is among them, whatever else still runs.
        const victims = (await descendants(run.pid!)).filter((x) => x.comm === victim);
        expect(victims.length, `${victim} is running`).toBeGreaterThan(0);
        for (const p of victims) signal(p.pid, 'SIGKILL');
        // The killed program may belong to another table's part: the held one must go on.
        await unlock();
        const r = await run;
        expect(r.exitCode, String(r.stderr)).toBe(1);
        expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(new RegExp(`${victim === 'mariadb' ? 'mysql client' : victim}.*killed by SIGKILL`))]);
        expect((await survivors(mark)).map((x) => x.comm)).toEqual([]);
      });
    });
  }
});
