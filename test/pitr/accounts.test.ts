// Account changes in the binlog (CREATE USER, GRANT, SET PASSWORD, rows written into the
// privilege tables) are replayed only with --accounts: a full-scope recovery once gave the
// target a user with ALL PRIVILEGES that its operator never asked for (issue 14.6).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { runPitr } from '../../src/pitr/run-pitr.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';

let source: SandboxServer;
let target: SandboxServer;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: Repository;
let env: Record<string, string>;
let spool: string;
const NEW_USERS = ['intruder', 'reader', 'rowuser'];

beforeAll(async () => {
  [source, target, keys] = await Promise.all([startSandboxServer({ binlog: true }), startSandboxServer({ binlog: false }), makeKeys()]);
  const r = await tempRepoUrl();
  spool = await mkdtemp(join(tmpdir(), 'dbops-pitr-accounts-spool-'));
  const signingKey = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  const recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  const storage = await openStorage(r.url);
  await initRepository(storage, signingKey, recipients);
  repo = await openRepository(storage, { signer: signingKey });
  env = { ...keys.env, DBOPS_STORAGE_URL: r.url, DBOPS_RESTORE_TARGET_URL: target.url };

  const db = await MysqlClient.connect(source.conn);
  try {
    await db.exec('CREATE DATABASE shop');
    await db.exec('CREATE TABLE shop.t (id INT PRIMARY KEY)');
    await db.exec('INSERT INTO shop.t VALUES (1)');
    await runBackup({ repo, source: source.conn, recipients, databases: ['shop'], compressionLevel: 1, compressionThreads: 1, includeAccounts: true });
    await db.exec('INSERT INTO shop.t VALUES (2)');
    await db.exec("CREATE USER 'intruder'@'%' IDENTIFIED BY 'pw1'");
    await db.exec("/* an application's comment */ GRANT ALL PRIVILEGES ON *.* TO 'intruder'@'%' WITH GRANT OPTION");
    await db.exec('USE shop');
    await db.exec("CREATE USER 'reader'@'%'");
    await db.exec("GRANT SELECT ON shop.* TO 'reader'@'%'");
    await db.exec("SET PASSWORD FOR 'reader'@'%' = PASSWORD('pw2')");
    // Rows written straight into the privilege table (row events on mysql.global_priv).
    await db.exec("INSERT INTO mysql.global_priv (Host, User, Priv) VALUES ('%', 'rowuser', '{}')");
    await db.exec('FLUSH PRIVILEGES');
    await db.exec('INSERT INTO shop.t VALUES (3)');
  } finally {
    await db.close();
  }
  await shipBinlogs({ repo, source: source.conn, recipients, compressionLevel: 1, compressionThreads: 1, spoolRoot: spool, maxLagSeconds: 60, once: true });
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (spool) await rm(spool, { recursive: true, force: true });
});

async function usersOnTarget(): Promise<string[]> {
  return withConnection(target.conn, async (db) =>
    (await db.query<{ u: string }>('SELECT DISTINCT User AS u FROM mysql.global_priv WHERE User IN (?) ORDER BY u', [NEW_USERS])).map((r) => r.u),
  );
}

async function rowsOnTarget(): Promise<number[]> {
  return withConnection(target.conn, async (db) => (await db.query<{ id: number }>('SELECT id FROM shop.t ORDER BY id')).map((r) => Number(r.id)));
}

describe('account statements in point-in-time recovery', () => {
  it('a full-scope recovery replays the data but no account change', async () => {
    const identityFile = keys.env.DBOPS_AGE_IDENTITY_FILE!;
    await runPitr({ repo, identityFile, target: { kind: 'latest' }, conn: target.conn, scope: {}, force: true });
    expect(await rowsOnTarget()).toEqual([1, 2, 3]);
    expect(await usersOnTarget()).toEqual([]);
  });

  it('a recovery of one database leaves out its GRANTs too', async () => {
    const identityFile = keys.env.DBOPS_AGE_IDENTITY_FILE!;
    await runPitr({ repo, identityFile, target: { kind: 'latest' }, conn: target.conn, scope: { database: 'shop' }, force: true });
    expect(await rowsOnTarget()).toEqual([1, 2, 3]);
    expect(await usersOnTarget()).toEqual([]);
  });

  it('pitr --accounts replays them (and restores the backup\'s accounts)', async () => {
    const r = await runCli(['pitr', '--to', 'latest', '--accounts', '--force'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await rowsOnTarget()).toEqual([1, 2, 3]);
    expect(await usersOnTarget()).toEqual(NEW_USERS);
    const grants = await withConnection(target.conn, async (db) => db.query<Record<string, string>>("SHOW GRANTS FOR 'intruder'@'%'"));
    expect(Object.values(grants[0]!)[0]).toMatch(/GRANT ALL PRIVILEGES ON \*\.\* TO `intruder`@`%`/);
  });
});
