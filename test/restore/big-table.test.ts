// A table of several extended INSERTs comes back identical: rows that need the dump's
// session settings (a zero AUTO_INCREMENT value under NO_AUTO_VALUE_ON_ZERO, TIMESTAMPs
// written in UTC into a target in another time zone), its deferred secondary index and
// its trigger, created only after the rows; its rows (a BLOB among them) go in through
// LOAD DATA. A connection killed mid-load is reported as the client's error, not as a
// damaged backup, and a client left blocked by it does not hold the restore for minutes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import mysql from 'mysql2/promise';
import { mariadb, freshDatabase } from '../helpers/mariadb.js';
import { runCli, startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { fingerprintDatabase, diffFingerprints } from '../../src/verify/db-fingerprint.js';
import { withConnection } from '../../src/mysql/client.js';
import { fakeBin, withPath } from '../helpers/fake-tools.js';

const DB = 'bigload';
let target: SandboxServer;
let env: Record<string, string>;

async function fingerprint(url: string, db: string) {
  const conn = await mysql.createConnection({ uri: url });
  try {
    return await fingerprintDatabase(conn, db);
  } finally {
    await conn.end();
  }
}

beforeAll(async () => {
  const source = await freshDatabase(DB);
  // A target in another time zone: a loader session without the dump's TIME_ZONE would shift every TIMESTAMP.
  target = await startSandboxServer({ binlog: false, extraArgs: ['--default-time-zone=+05:00'] });
  await withConnection(source.conn, async (db) => {
    await db.exec(`CREATE TABLE wide (
      id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      k INT NOT NULL,
      at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      s VARCHAR(250) NOT NULL,
      b BLOB,
      KEY wide_k (k)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await db.exec('CREATE TABLE audit (n INT NOT NULL)');
    await db.exec('CREATE TRIGGER wide_ai AFTER INSERT ON wide FOR EACH ROW INSERT INTO audit VALUES (NEW.k)');
    await db.exec("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')");
    await db.exec("INSERT INTO wide (id, k, at, s, b) VALUES (0, -1, '2026-01-01 00:00:00.5', 'zero id', NULL)");
    // ~8 MB: several extended INSERTs of ~1 MB each.
    await db.exec(`INSERT INTO wide (k, at, s, b)
      SELECT seq % 977, FROM_UNIXTIME(1790000000 + seq), CONCAT(REPEAT(MD5(seq), 6), ' é ; \\n'), UNHEX(REPEAT(MD5(seq), 2))
      FROM seq_1_to_30000`);
  });
  const keys = await makeKeys();
  const repo = await tempRepoUrl();
  env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const backup = await runCli(['backup', '--databases', DB], env);
  expect(backup.exitCode, backup.stderr).toBe(0);
});

afterAll(async () => {
  await target?.stop();
});

describe('restoring a big table', () => {
  it('comes back identical, index and trigger included', async () => {
    const r = await runCli(['restore', 'latest', '--target', target.url, '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const [a, b] = await Promise.all([fingerprint(mariadb().url, DB), fingerprint(target.url, DB)]);
    expect(diffFingerprints(a, b)).toEqual([]);
    // The trigger did not fire during the load: it was created after the rows.
    const audit = await withConnection(target.conn, (db) => db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${DB}.audit`));
    expect(Number(audit[0]?.n)).toBe(30001);
    // Both tables qualify for LOAD DATA (the BLOB through UNHEX); audit's rows are there too.
    expect(JSON.parse(String(r.stdout)).loadData).toEqual(expect.arrayContaining([expect.objectContaining({ table: 'wide', rows: 30001 }), expect.objectContaining({ table: 'audit', rows: 30001 })]));
  });

  it('a connection killed mid-load fails with the client error (exit 1), not as damage', async () => {
    const run = startCli(['restore', 'latest', '--target', target.url, '--table', `${DB}.wide`, '--into-schema', 'bigload_killed'], env);
    let killed = false;
    for (let i = 0; i < 400 && !killed; i++) {
      await withConnection(target.conn, async (db) => {
        const rows = await db.query<{ id: number }>("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA LOCAL INFILE %`wide`%'");
        if (rows[0]) {
          await db.exec(`KILL ${Number(rows[0].id)}`);
          killed = true;
        }
      });
      if (!killed) await new Promise((r) => setTimeout(r, 25));
    }
    const r = await run;
    expect(killed).toBe(true);
    expect(r.exitCode).toBe(1);
    // Either the client sees its connection gone, or it stays blocked on a socket the server
    // left (minutes, until TCP gives up) and dbops finds the statement gone from the server.
    expect(String(r.stderr)).toMatch(/mysql client: exited with code 1: .*Lost connection|the server ended the mysql client's LOAD DATA of `wide`/);
    expect(String(r.stderr)).not.toMatch(/damaged|altered/);
  });

  it('a client stuck on rows its server no longer loads fails within seconds, naming the table', async () => {
    // A fault a real server gives only now and then (the test above sees it in some runs): the
    // client blocks on a connection the server dropped, while our writes wait on its FIFO. The
    // fake client takes the SQL, opens the LOAD DATA's FIFO and never reads it.
    const fake = await fakeBin(
      'mariadb',
      `#!/bin/sh\nwhile IFS= read -r line; do\n  case "$line" in\n    "LOAD DATA LOCAL INFILE '"*) f=\${line#"LOAD DATA LOCAL INFILE '"}; exec sleep 120 3<"\${f%%"'"*}" ;;\n  esac\ndone\n`,
    );
    const r = await runCli(['restore', 'latest', '--target', target.url, '--table', `${DB}.wide`, '--into-schema', 'bigload_stalled'], { ...env, PATH: withPath(fake) });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/the server ended the mysql client's LOAD DATA of `wide` while its rows were being sent/);
  });

  it('loads it into another schema the same way', async () => {
    const r = await runCli(['restore', 'latest', '--target', target.url, '--table', `${DB}.wide`, '--into-schema', 'bigload_copy', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = await withConnection(target.conn, (db) =>
      db.query<{ n: number; z: number; c: string }>(`SELECT COUNT(*) AS n, SUM(id = 0) AS z, SUM(CRC32(CONCAT(id, k, UNIX_TIMESTAMP(at), s, HEX(b)))) AS c FROM bigload_copy.wide`),
    );
    const src = await withConnection(mariadb().conn, (db) =>
      db.query<{ n: number; z: number; c: string }>(`SELECT COUNT(*) AS n, SUM(id = 0) AS z, SUM(CRC32(CONCAT(id, k, UNIX_TIMESTAMP(at), s, HEX(b)))) AS c FROM ${DB}.wide`),
    );
    expect(rows[0]).toEqual(src[0]);
    expect(Number(rows[0]?.z)).toBe(1);
  });
});
