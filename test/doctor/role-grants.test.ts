// Least privilege, proven by doing the work: four accounts are created by running exactly
// what `dbops doctor --print-grants` prints (backup, admin on one database, restore, monitor),
// and every command runs as the account of its role — migrate, seed, partitions, backup,
// binlog ship, checksum, restore, pitr, db report — then doctor finds each account holding
// exactly its role's grants.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mariadb } from '../helpers/mariadb.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { withConnection } from '../../src/mysql/client.js';

const DB = 'rg_horizn';
const TODAY = '2026-11-27';
const ACCOUNTS = { backup: 'rg_backup', admin: 'rg_admin', restore: 'rg_restore', monitor: 'rg_monitor' } as const;
const PASSWORDS = { backup: 'rg-Backup-pw1', admin: 'rg-Admin-pw2', restore: 'rg-Restore-pw3', monitor: 'rg-Monitor-pw4' } as const;

let env: Record<string, string>;
let repoDir: string;

async function dropAll(): Promise<void> {
  await withConnection(mariadb().conn, async (db) => {
    await db.exec('SET SESSION sql_log_bin = 0');
    for (const user of Object.values(ACCOUNTS)) await db.exec("DROP USER IF EXISTS ?@'%'", [user]);
    for (const d of [DB, 'rg_restored', 'rg_pitr']) await db.exec(`DROP DATABASE IF EXISTS \`${d}\``);
  });
}

beforeAll(async () => {
  await dropAll();
  const { port } = mariadb();
  const keys = await makeKeys();
  const repo = await tempRepoUrl();
  repoDir = repo.dir;
  const dir = await tempDir('dbops-rg-');
  const pw = async (role: keyof typeof PASSWORDS): Promise<string> => {
    const file = join(dir, `${role}.pw`);
    await writeFile(file, PASSWORDS[role], { mode: 0o600 });
    return file;
  };
  env = {
    ...keys.env,
    DBOPS_STORAGE_URL: repo.url,
    DBOPS_SOURCE_URL: `mysql://${ACCOUNTS.backup}@127.0.0.1:${port}`,
    DBOPS_SOURCE_PASSWORD_FILE: await pw('backup'),
    DBOPS_SOURCE_DATABASES: DB,
    DBOPS_ADMIN_URL: `mysql://${ACCOUNTS.admin}@127.0.0.1:${port}/${DB}`,
    DBOPS_ADMIN_PASSWORD_FILE: await pw('admin'),
    DBOPS_RESTORE_TARGET_URL: `mysql://${ACCOUNTS.restore}@127.0.0.1:${port}`,
    DBOPS_RESTORE_TARGET_PASSWORD_FILE: await pw('restore'),
    DBOPS_MONITOR_URL: `mysql://${ACCOUNTS.monitor}@127.0.0.1:${port}`,
    DBOPS_MONITOR_PASSWORD_FILE: await pw('monitor'),
    DBOPS_BINLOG_SPOOL_DIR: join(dir, 'spool'),
    DBOPS_RETENTION_PAGEVIEWS: '5d',
    DBOPS_RETENTION_EVENTS: '7d',
    DBOPS_PARTITIONS_AHEAD_DAYS: '3',
  };
});

afterAll(dropAll);

describe('accounts with exactly the printed grants', () => {
  it('run every command of their role, and doctor finds each one exact', async () => {
    const printed = await runCli(['doctor', '--print-grants', '--flavor', 'mariadb'], env);
    expect(printed.exitCode, printed.stderr).toBe(0);
    const sql = printed.stdout;
    expect(sql).toContain(`GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO '${ACCOUNTS.backup}'@'%';`);
    expect(sql).toMatch(new RegExp(`GRANT SELECT, INSERT, .* ON \`${DB}\`\\.\\* TO '${ACCOUNTS.admin}'@'%';`));
    expect(sql).toMatch(new RegExp(`GRANT .*BINLOG ADMIN, BINLOG REPLAY, SET USER ON \\*\\.\\* TO '${ACCOUNTS.restore}'@'%';`));
    // Run as printed; only the placeholder password changes.
    await withConnection(mariadb().conn, async (db) => {
      await db.exec('SET SESSION sql_log_bin = 0');
      for (const line of sql.split('\n').filter((l) => l && !l.startsWith('--'))) {
        const role = (Object.keys(ACCOUNTS) as Array<keyof typeof ACCOUNTS>).find((r) => line.includes(`'${ACCOUNTS[r]}'@`))!;
        await db.exec(line.replace(/;$/, '').replace("'change-me'", `'${PASSWORDS[role]}'`));
      }
    });

    const steps: string[][] = [
      ['init'],
      ['migrate', 'up'],
      ['seed', '--size', '2MB', '--sites', '1', '--days', '10', '--end-date', TODAY],
      ['partitions', 'maintain', '--apply', '--today', TODAY],
      ['backup'],
      ['checksum'],
      ['binlog', 'ship', '--once'],
      ['restore', 'latest', '--database', DB, '--into-schema', 'rg_restored'],
      ['pitr', '--to', 'latest', '--database', DB, '--into-schema', 'rg_pitr'],
      ['migrate', 'status'],
      ['migrate', 'verify'],
      ['db', 'report'],
    ];
    for (const args of steps) {
      const r = await runCli(args, env);
      expect(r.exitCode, `dbops ${args.join(' ')}: ${r.stderr.split('\n').filter((l) => !l.startsWith('{')).join(' ') || r.stderr.slice(-600)}`).toBe(0);
    }
    // The admin account archived expired partitions (its own dump) before dropping them.
    expect((await readdir(join(repoDir, 'archive', DB, 'pageviews'))).filter((f) => f.endsWith('.sql.zst.age')).length).toBeGreaterThan(0);
    await withConnection(mariadb().conn, async (db) => {
      const count = async (d: string): Promise<number> => Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${d}\`.sites`))[0]!.n);
      expect(await count('rg_restored')).toBe(await count(DB));
      expect(await count('rg_pitr')).toBe(await count(DB));
    });

    const doctor = await runCli(['doctor', '--json'], env);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string; detail: string }> }).checks;
    const status = Object.fromEntries(checks.map((c) => [c.id, `${c.status}: ${c.detail}`]));
    for (const id of ['source.privileges', 'admin.privileges', 'restore.privileges', 'monitor.privileges']) expect(status[id], id).toMatch(/^ok: .* has exactly what/);
    expect(doctor.exitCode, doctor.stdout).toBe(0);
  });

  it('doctor blocks an account that lacks a grant of its role, and warns about one beyond it', async () => {
    await withConnection(mariadb().conn, async (db) => {
      await db.exec('SET SESSION sql_log_bin = 0');
      await db.exec("REVOKE ALTER ON `rg_horizn`.* FROM 'rg_admin'@'%'");
      await db.exec("GRANT SUPER ON *.* TO 'rg_restore'@'%'");
    });
    const doctor = await runCli(['doctor', '--json'], env);
    expect(doctor.exitCode).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string; detail: string; fix?: string }> }).checks;
    const admin = checks.find((c) => c.id === 'admin.privileges')!;
    expect(admin.status).toBe('fail');
    expect(admin.detail).toMatch(/lacks ALTER ON `rg_horizn`\.\*/);
    expect(admin.fix).toMatch(/^run on the server: GRANT SELECT, INSERT, .*ALTER.* ON `rg_horizn`\.\* TO 'rg_admin'@'%';/);
    const restore = checks.find((c) => c.id === 'restore.privileges')!;
    expect(restore.status).toBe('warn');
    expect(restore.detail).toMatch(/holds more than .* need: SUPER ON \*\.\*/);
  });
});
