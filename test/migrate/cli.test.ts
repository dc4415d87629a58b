// `dbops migrate …` as users run it: exit codes, the lock between two processes, the production
// guard and the pre-migration backup (listed, and restorable).
import { appendFile, rm } from 'node:fs/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationLockName } from '../../src/migrate/index.js';
import { makeKeys, runCli, startCli, tempRepoUrl } from '../helpers/cli.js';
import { mariadb } from '../helpers/mariadb.js';
import { copyMigrations, openFreshDb, schemaSnapshot, type TestDb } from './helpers.js';

const open: TestDb[] = [];
const dirs: string[] = [];
async function db(name: string): Promise<TestDb> {
  const d = await openFreshDb(name);
  open.push(d);
  return d;
}
const env = (extra: Record<string, string> = {}): Record<string, string> => ({ DBOPS_SOURCE_URL: mariadb().url, ...extra });
afterAll(async () => {
  for (const d of open) await d.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tables(conn: TestDb['conn']): Promise<string[]> {
  return Object.keys(await schemaSnapshot(conn)).sort();
}

describe('dbops migrate', () => {
  it('up from empty, down to zero, up again: same schema; status and verify agree', async () => {
    const d = await db('mc_roundtrip');
    const a = await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], env());
    expect(a.exitCode, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/applied\s+0001_core_tables/);
    const first = await schemaSnapshot(d.conn);
    expect(Object.keys(first)).toContain('pageviews');
    const st = await runCli(['--json', 'migrate', 'status', '--database', d.name], env());
    expect(JSON.parse(st.stdout).migrations.map((m: { state: string }) => m.state)).toEqual(['applied', 'applied', 'applied']);
    expect((await runCli(['migrate', 'verify', '--database', d.name], env())).exitCode).toBe(0);
    const down = await runCli(['migrate', 'down', '--to', '0', '--database', d.name, '--no-backup'], env());
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await tables(d.conn)).toEqual(['schema_migrations']);
    expect((await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], env())).exitCode).toBe(0);
    expect(await schemaSnapshot(d.conn)).toEqual(first);
    // Nothing pending: nothing to do, and no backup needed even though none is configured.
    const again = await runCli(['migrate', 'up', '--database', d.name], env());
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to apply/);
  });

  it('verify exits 3 naming the edited migration file', async () => {
    const d = await db('mc_drift');
    const dir = await copyMigrations();
    dirs.push(dir);
    expect((await runCli(['migrate', 'up', '--database', d.name, '--dir', dir, '--no-backup'], env())).exitCode).toBe(0);
    await appendFile(`${dir}/0002_aggregate_tables.up.sql`, '\n-- edited later\n');
    const r = await runCli(['migrate', 'verify', '--database', d.name, '--dir', dir], env());
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/0002_aggregate_tables\.up\.sql .*changed after the migration was applied/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // up refuses to run over drift too.
    expect((await runCli(['migrate', 'up', '--database', d.name, '--dir', dir, '--no-backup'], env())).exitCode).toBe(3);
  });

  it('concurrent up: a held lock makes one fail clearly; two at once apply everything exactly once', async () => {
    const d = await db('mc_lock');
    const holder = await d.another();
    const [got] = await holder.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [migrationLockName(d.name)]);
    expect(Number(got[0]!.got)).toBe(1);
    const blocked = await runCli(['migrate', 'up', '--database', d.name, '--no-backup', '--lock-timeout', '1'], env());
    expect(blocked.exitCode).toBe(1);
    expect(blocked.stderr).toMatch(/another migration of database mc_lock is running .*let it finish, then retry/);
    expect(await tables(d.conn)).not.toContain('sites');
    await holder.query('SELECT RELEASE_LOCK(?)', [migrationLockName(d.name)]);

    const [x, y] = await Promise.all([
      startCli(['--json', 'migrate', 'up', '--database', d.name, '--no-backup'], env()),
      startCli(['--json', 'migrate', 'up', '--database', d.name, '--no-backup'], env()),
    ]);
    expect([x.exitCode, y.exitCode], `${x.stderr}\n${y.stderr}`).toEqual([0, 0]);
    const applied = [...JSON.parse(String(x.stdout)).applied, ...JSON.parse(String(y.stdout)).applied].map((s: { id: string }) => s.id).sort();
    expect(applied).toEqual(['0001_core_tables', '0002_aggregate_tables', '0003_system_tables']);
  });

  it('production refuses up/down without --confirm-production (exit 2) and proceeds with it', async () => {
    const d = await db('mc_prod');
    const prod = env({ DBOPS_ENVIRONMENT: 'production' });
    const r = await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], prod);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^dbops: environment is production: refusing to migrate up database mc_prod without --confirm-production$/);
    expect(await tables(d.conn)).not.toContain('sites');
    const ok = await runCli(['migrate', 'up', '--database', d.name, '--no-backup', '--confirm-production'], prod);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(await tables(d.conn)).toContain('sites');
    expect((await runCli(['migrate', 'down', '--database', d.name, '--no-backup'], prod)).exitCode).toBe(2);
    expect(await tables(d.conn)).toContain('users'); // 0003 still there
  });
});

describe('pre-migration backup', () => {
  let keys: Awaited<ReturnType<typeof makeKeys>>;
  let repo: { dir: string; url: string };
  beforeAll(async () => {
    keys = await makeKeys();
    repo = await tempRepoUrl();
    dirs.push(keys.dir, repo.dir);
    const init = await runCli(['init'], { ...keys.env, DBOPS_STORAGE_URL: repo.url });
    expect(init.exitCode, init.stderr).toBe(0);
  });

  it('refuses when the repository is not configured, naming --no-backup', async () => {
    const d = await db('mc_nobackup');
    const r = await runCli(['migrate', 'up', '--database', d.name], env());
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/storage\.url .*not configured: configure it, or pass --no-backup/);
    expect(await tables(d.conn)).toEqual(['schema_migrations']); // bookkeeping only, no migration ran
  });

  it('is taken before down, listed, and restores what the migration removed', async () => {
    const d = await db('mc_backup');
    const full = env({ ...keys.env, DBOPS_STORAGE_URL: repo.url });
    expect((await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], full)).exitCode).toBe(0);
    await d.conn.query("INSERT INTO sites (id, public_id, domain, name) VALUES (1, 'abcdefabcdef', 'kept.example', 'Kept')");
    const r = await runCli(['--json', 'migrate', 'down', '--to', '0', '--database', d.name], full);
    expect(r.exitCode, r.stderr).toBe(0);
    const { backupId } = JSON.parse(r.stdout) as { backupId: string };
    expect(backupId).toMatch(/^\d{8}T\d{6}Z-[a-z2-7]{6}$/);
    expect(r.stderr).toContain(`backup ${backupId} taken before migrate down`);
    expect(await tables(d.conn)).toEqual(['schema_migrations']);

    const list = await runCli(['--json', 'list'], full);
    expect(JSON.parse(list.stdout).backups.map((b: { id: string }) => b.id)).toContain(backupId);
    const restored = await runCli(['restore', backupId, '--database', d.name, '--force', '--target', mariadb().url], full);
    expect(restored.exitCode, restored.stderr).toBe(0);
    const [rows] = await d.conn.query<RowDataPacket[]>('SELECT domain FROM sites');
    expect(rows.map((x) => x.domain)).toEqual(['kept.example']);
    const st = await runCli(['--json', 'migrate', 'status', '--database', d.name], full);
    expect(JSON.parse(st.stdout).migrations.every((m: { state: string }) => m.state === 'applied')).toBe(true);
  });
});
