// `dbops migrate …` as users run it: exit codes, the lock between two processes, the production
// guard and the pre-migration backup (listed, and restorable).
import { appendFile, rename, rm, writeFile } from 'node:fs/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationLockName } from '../../src/migrate/index.js';
import { makeKeys, runCli, startCli, tempRepoUrl } from '../helpers/cli.js';
import { mariadb } from '../helpers/mariadb.js';
import { withConnection } from '../../src/mysql/client.js';
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

async function databaseExists(name: string): Promise<boolean> {
  return withConnection(mariadb().conn, async (c) => (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]))[0]!.n > 0);
}

async function dropDatabase(name: string): Promise<void> {
  await withConnection(mariadb().conn, (c) => c.exec(`DROP DATABASE IF EXISTS \`${name}\``));
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
    expect(JSON.parse(st.stdout).migrations.map((m: { state: string }) => m.state)).toEqual(['applied', 'applied', 'applied', 'applied']);
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
    expect(blocked.stderr).toMatch(/another migration, seed or partition maintenance of database mc_lock is running .*let it finish, then retry/);
    expect(await tables(d.conn)).not.toContain('sites');
    await holder.query('SELECT RELEASE_LOCK(?)', [migrationLockName(d.name)]);

    const [x, y] = await Promise.all([
      startCli(['--json', 'migrate', 'up', '--database', d.name, '--no-backup'], env()),
      startCli(['--json', 'migrate', 'up', '--database', d.name, '--no-backup'], env()),
    ]);
    expect([x.exitCode, y.exitCode], `${x.stderr}\n${y.stderr}`).toEqual([0, 0]);
    const applied = [...JSON.parse(String(x.stdout)).applied, ...JSON.parse(String(y.stdout)).applied].map((s: { id: string }) => s.id).sort();
    expect(applied).toEqual(['0001_core_tables', '0002_aggregate_tables', '0003_system_tables', '0004_visitor_privacy']);
  });

  it('production refuses up/down without --confirm-production (exit 2) and proceeds with it', async () => {
    const d = await db('mc_prod');
    const prod = env({ DBOPS_ENVIRONMENT: 'production' });
    const r = await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], prod);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^dbops: environment is production: refusing to migrate up database mc_prod without --confirm-production$/);
    expect(await tables(d.conn)).toEqual([]); // refused: not even schema_migrations
    const ok = await runCli(['migrate', 'up', '--database', d.name, '--no-backup', '--confirm-production', '--confirm-no-backup'], prod);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(await tables(d.conn)).toContain('sites');
    expect((await runCli(['migrate', 'down', '--database', d.name, '--no-backup'], prod)).exitCode).toBe(2);
    expect(await tables(d.conn)).toContain('users'); // 0003 still there
  });
});

describe('dbops migrate on a fresh server, and refusals that change nothing', () => {
  it('status exits 2 naming the fix, plan prints the statements, and neither creates the database', async () => {
    await dropDatabase('mc_fresh');
    const st = await runCli(['migrate', 'status', '--database', 'mc_fresh'], env());
    expect(st.exitCode).toBe(2);
    expect(st.stderr).toMatch(/^dbops: database mc_fresh is not initialised: it has no schema_migrations table; run `dbops migrate up`, or `dbops migrate baseline --version N`/m);
    expect(st.stdout).toMatch(/0004_visitor_privacy\s+pending/);
    const plan = await runCli(['migrate', 'plan', '--database', 'mc_fresh'], env());
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/-- 0001_core_tables .*\nCREATE TABLE sites \(/);
    expect(plan.stdout).toMatch(/CREATE TABLE visitor_salts/);
    expect(await databaseExists('mc_fresh')).toBe(false);
    const prod = await runCli(['migrate', 'up', '--database', 'mc_fresh', '--no-backup'], env({ DBOPS_ENVIRONMENT: 'production' }));
    expect(prod.exitCode).toBe(2);
    expect(await databaseExists('mc_fresh')).toBe(false);
  });

  it('status exits 3 for a changed file and names an out-of-order migration', async () => {
    const d = await db('mc_status_codes');
    const dir = await copyMigrations();
    dirs.push(dir);
    for (const ext of ['up', 'down']) await rename(`${dir}/0004_visitor_privacy.${ext}.sql`, `${dir}/0006_visitor_privacy.${ext}.sql`);
    expect((await runCli(['migrate', 'up', '--database', d.name, '--dir', dir, '--no-backup'], env())).exitCode).toBe(0);
    expect((await runCli(['migrate', 'status', '--database', d.name, '--dir', dir], env())).exitCode).toBe(0);
    await writeFile(`${dir}/0005_late_idea.up.sql`, 'CREATE TABLE late (id INT);\n');
    await writeFile(`${dir}/0005_late_idea.down.sql`, 'DROP TABLE IF EXISTS late;\n');
    const ooo = await runCli(['--json', 'migrate', 'status', '--database', d.name, '--dir', dir], env());
    expect(ooo.exitCode).toBe(3);
    const late = JSON.parse(ooo.stdout).migrations.find((m: { id: string }) => m.id === '0005_late_idea');
    expect(late).toMatchObject({ state: 'out-of-order' });
    expect(late.hint).toMatch(/renumber it above 6/);
    await rm(`${dir}/0005_late_idea.up.sql`);
    await rm(`${dir}/0005_late_idea.down.sql`);
    await appendFile(`${dir}/0002_aggregate_tables.up.sql`, '\n-- edited later\n');
    const changed = await runCli(['migrate', 'status', '--database', d.name, '--dir', dir], env());
    expect(changed.exitCode).toBe(3);
    expect(changed.stderr).toMatch(/0002_aggregate_tables is changed/);
  });

  it('verify exits 3 naming a column added to pageviews by hand', async () => {
    const d = await db('mc_schema_drift');
    expect((await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], env())).exitCode).toBe(0);
    expect((await runCli(['migrate', 'verify', '--database', d.name], env())).exitCode).toBe(0);
    await d.conn.query('ALTER TABLE pageviews ADD COLUMN ip_address VARCHAR(45) NULL');
    const r = await runCli(['migrate', 'verify', '--database', d.name], env());
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^dbops: schema of mc_schema_drift drifted from its migrations: pageviews: column ip_address added \(varchar\(45\)/);
  });

  it('D3: up on a database made by hand fails without suggesting down; down afterwards leaves sites and its rows', async () => {
    const d = await db('mc_d3');
    await d.conn.query('CREATE TABLE sites (id INT UNSIGNED NOT NULL PRIMARY KEY, domain VARCHAR(253) NOT NULL)');
    await d.conn.query("INSERT INTO sites VALUES (1, 'kept.example')");
    const upR = await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], env());
    expect(upR.exitCode).toBe(1);
    expect(upR.stderr).toMatch(/Table 'sites' already exists/);
    expect(upR.stderr).not.toMatch(/migrate down/);
    const st = await runCli(['migrate', 'status', '--database', d.name], env());
    expect(st.stdout).not.toMatch(/migrate down/);
    const downR = await runCli(['migrate', 'down', '--database', d.name, '--no-backup'], env());
    expect(downR.exitCode, downR.stderr).toBe(0);
    expect(downR.stdout).toMatch(/forgot\s+0001_core_tables/);
    const [rows] = await d.conn.query<RowDataPacket[]>('SELECT id, domain FROM sites');
    expect(rows.map((x) => [x.id, x.domain])).toEqual([[1, 'kept.example']]);
  });

  it('a production marker on the server counts like the config, and going without the backup there needs its own flag', async () => {
    const d = await db('mc_marker');
    expect((await runCli(['migrate', 'up', '--database', d.name, '--no-backup', '--to', '3'], env())).exitCode).toBe(0);
    await d.conn.query(`INSERT INTO settings (name, value) VALUES ('environment', '"production"')`);
    const refused = await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], env());
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/^dbops: database mc_marker is marked production \(settings row environment\): refusing to migrate up database mc_marker without --confirm-production$/m);
    const noBackup = await runCli(['migrate', 'up', '--database', d.name, '--no-backup', '--confirm-production'], env());
    expect(noBackup.exitCode).toBe(2);
    expect(noBackup.stderr).toMatch(/without the safety backup needs --confirm-no-backup/);
    expect(await tables(d.conn)).not.toContain('visitor_salts');
    const ok = await runCli(['migrate', 'up', '--database', d.name, '--no-backup', '--confirm-production', '--confirm-no-backup'], env());
    expect(ok.exitCode, ok.stderr).toBe(0);
    const actions = ok.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { adminAction?: string; target?: string });
    expect(actions.map((a) => a.adminAction).filter(Boolean)).toEqual(['migrate.backup-skipped', 'migrate.up']);
    // The server's hostname can say so too (any hostname matches '.').
    const byHost = await runCli(['migrate', 'down', '--database', d.name, '--no-backup'], env({ DBOPS_PRODUCTION_HOSTNAME_PATTERN: '.' }));
    expect(byHost.exitCode).toBe(2);
    expect(byHost.stderr).toMatch(/^dbops: server \S+ matches production\.hostnamePattern: refusing to migrate down database mc_marker without --confirm-production$/m);
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
    expect(await tables(d.conn)).toEqual([]); // refused before anything was written
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

  it('records migrate up and down in the evidence log with what they applied', async () => {
    const d = await db('mc_evidence');
    const full = env({ ...keys.env, DBOPS_STORAGE_URL: repo.url });
    expect((await runCli(['migrate', 'up', '--database', d.name, '--no-backup'], full)).exitCode).toBe(0);
    const entries = JSON.parse((await runCli(['evidence', 'list', '--json'], full)).stdout) as { entries: Array<{ action: string; subject: string | null; outcome: string; details: { steps?: unknown[] } }> };
    const up = entries.entries.filter((e) => e.action === 'migrate.up' && e.subject === d.name);
    expect(up).toHaveLength(1);
    expect(up[0]!.outcome).toBe('ok');
    expect(up[0]!.details.steps?.length).toBeGreaterThan(0);
    expect((await runCli(['evidence', 'verify'], full)).exitCode).toBe(0);
  });
});
