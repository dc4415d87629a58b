// Secrets: the source password must never show in any process's argv (ps), in logs,
// in output, or in the manifest — not even while the dump and the pipeline are running.
import { describe, it, expect, beforeAll } from 'vitest';
import { execa } from 'execa';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { mariadb } from '../helpers/mariadb.js';
import { loadSakila } from '../helpers/fixtures.js';
import { runCli, startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { dumpPausedAfter, withPath } from '../helpers/fake-tools.js';
import { tempDir } from '../helpers/temp-dirs.js';

const PASSWORD = 'Zq7-secret#Pa55word';

beforeAll(async () => {
  await loadSakila(mariadb().url, 'sakila_secrets');
  const conn = await mysql.createConnection({ uri: mariadb().url });
  try {
    await conn.query("DROP USER IF EXISTS 'dbops_backup'@'127.0.0.1'");
    await conn.query("CREATE USER 'dbops_backup'@'127.0.0.1' IDENTIFIED BY ?", [PASSWORD]);
    await conn.query("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, REPLICATION CLIENT, BINLOG MONITOR ON *.* TO 'dbops_backup'@'127.0.0.1'");
    await conn.query("GRANT SELECT ON mysql.* TO 'dbops_backup'@'127.0.0.1'");
  } finally {
    await conn.end();
  }
});

describe('secrets', () => {
  it('never appear in ps, logs, output or the repository', async () => {
    const keys = await makeKeys();
    const repo = await tempRepoUrl();
    const sourceUrl = `mysql://dbops_backup:${encodeURIComponent(PASSWORD)}@127.0.0.1:${mariadb().port}`;
    const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: sourceUrl, DBOPS_LOG_LEVEL: 'debug' };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const fake = await dumpPausedAfter(100_000, 3);
    const backup = startCli(['backup', '--databases', 'sakila_secrets'], { ...env, PATH: withPath(fake) });
    const seen: string[] = [];
    let sawDump = false;
    const deadline = Date.now() + 60_000;
    let finished = false;
    void backup.then(() => (finished = true));
    while (!finished && Date.now() < deadline) {
      const ps = await execa('ps', ['-eo', 'args'], { reject: false });
      for (const line of String(ps.stdout).split('\n')) {
        if (/mariadb-dump|zstd|age |\bage$/.test(line)) {
          sawDump ||= line.includes('mariadb-dump');
          seen.push(line);
        }
      }
      if (seen.length > 2000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await backup;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(sawDump, 'the dump process was observed while running').toBe(true);
    expect(seen.join('\n')).toContain('--defaults-extra-file=');
    expect(seen.join('\n')).not.toContain(PASSWORD);
    expect(String(r.stderr)).not.toContain(PASSWORD);
    expect(String(r.stdout)).not.toContain(PASSWORD);
    const files = await readdir(repo.dir, { recursive: true });
    for (const f of files.filter((f) => f.endsWith('.json'))) {
      expect(await readFile(join(repo.dir, f), 'utf8'), f).not.toContain(PASSWORD);
    }
    // A failing connection must not echo the password either.
    const bad = await runCli(['backup'], { ...env, DBOPS_SOURCE_URL: sourceUrl.replace(String(mariadb().port), '1') });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).not.toContain(PASSWORD);
  });

  it('restore --target without a password takes it from DBOPS_RESTORE_TARGET_PASSWORD_FILE, never from argv', async () => {
    const keys = await makeKeys();
    const repo = await tempRepoUrl();
    const { port, conn } = mariadb();
    const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    expect((await runCli(['backup', '--databases', 'sakila_secrets', '--no-accounts'], env)).exitCode).toBe(0);
    const dir = await tempDir('dbops-target-pw-');
    const pwFile = `${dir}/target.pw`;
    await writeFile(pwFile, `${conn.password}\n`, { mode: 0o600 });
    const restore = startCli(
      ['restore', 'latest', '--database', 'sakila_secrets', '--into-schema', 'sakila_secrets_r', '--force', '--target', `mysql://root@127.0.0.1:${port}`],
      { ...env, DBOPS_RESTORE_TARGET_PASSWORD_FILE: pwFile },
    );
    const seen: string[] = [];
    let finished = false;
    void restore.then(() => (finished = true));
    while (!finished) {
      const ps = await execa('ps', ['-eo', 'args'], { reject: false });
      seen.push(...String(ps.stdout).split('\n').filter((l) => l.includes(conn.password)));
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await restore;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(seen).toEqual([]);
    const n = await mysql.createConnection({ uri: mariadb().url }).then(async (c) => {
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM sakila_secrets_r.actor');
      await c.end();
      return (rows as Array<{ n: number }>)[0]!.n;
    });
    expect(n).toBe(200);
  });
});
