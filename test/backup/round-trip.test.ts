// The spine end to end through the CLI: backup to a real S3 protocol server, verify,
// restore into a fresh throwaway server, and prove every object came back identical
// (CHECKSUM TABLE, row counts, SHOW CREATE …) for the awkward fidelity fixture and sakila.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import mysql from 'mysql2/promise';
import { mariadb } from '../helpers/mariadb.js';
import { loadFidelity, loadSakila } from '../helpers/fixtures.js';
import { runCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { fingerprintDatabase, diffFingerprints } from '../../src/verify/db-fingerprint.js';

let s3: S3TestServer;
let target: SandboxServer;
let env: Record<string, string>;

async function fingerprint(url: string, db: string) {
  const conn = await mysql.createConnection({ uri: url, multipleStatements: false });
  try {
    return await fingerprintDatabase(conn, db);
  } finally {
    await conn.end();
  }
}

beforeAll(async () => {
  const source = mariadb();
  [s3, target] = await Promise.all([startS3Server(), startSandboxServer({ binlog: false })]);
  await loadFidelity(source.url, 'fidelity');
  await loadSakila(source.url, 'sakila');
  const keys = await makeKeys();
  env = { ...s3TestEnv, ...keys.env, DBOPS_STORAGE_URL: s3.url('roundtrip'), DBOPS_SOURCE_URL: source.url };
  const init = await runCli(['init'], env);
  expect(init.exitCode, init.stderr).toBe(0);
});

afterAll(async () => {
  await Promise.allSettled([s3?.cleanup(), target?.stop()]);
});

describe('backup → verify → restore round trip (S3)', () => {
  let backupId: string;

  it('backs up fidelity and sakila, lists it, verifies every part', async () => {
    const backup = await runCli(['backup', '--databases', 'fidelity,sakila', '--json'], env);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const summary = JSON.parse(backup.stdout);
    backupId = summary.id;
    expect(backupId).toMatch(/^\d{8}T\d{6}Z-[a-z0-9]+$/);
    expect(summary.consistentPoint.binlogFile).toMatch(/^binlog\.\d+$/);
    expect(summary.consistentPoint.gtidSet).toMatch(/^\d+-\d+-\d+/);
    expect(summary.warnings.join(' ')).toMatch(/non-transactional/);

    const list = await runCli(['list', '--json'], env);
    expect(list.exitCode).toBe(0);
    expect(JSON.parse(list.stdout).backups.map((b: { id: string }) => b.id)).toEqual([backupId]);

    const verify = await runCli(['verify', backupId], env);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/OK .*decrypted and hashed/);
  });

  it('restores both databases identical to the source', async () => {
    const restore = await runCli(['restore', backupId, '--target', target.url], env);
    expect(restore.exitCode, restore.stderr).toBe(0);
    for (const db of ['fidelity', 'sakila']) {
      const [a, b] = await Promise.all([fingerprint(mariadb().url, db), fingerprint(target.url, db)]);
      expect(diffFingerprints(a, b), db).toEqual([]);
    }
  });

  it('refuses a non-empty target with exit 2 and changes nothing', async () => {
    const again = await runCli(['restore', backupId, '--target', target.url, '--database', 'sakila'], env);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/already has tables.*--force/);
  });

  it('restores one table into another schema, without its triggers', async () => {
    const r = await runCli(['restore', 'latest', '--target', target.url, '--table', 'sakila.payment', '--into-schema', 'scratch'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const conn = await mysql.createConnection({ uri: target.url });
    try {
      const [[src]] = (await conn.query('CHECKSUM TABLE sakila.payment EXTENDED')) as unknown as [[{ Checksum: string }]];
      const [[copy]] = (await conn.query('CHECKSUM TABLE scratch.payment EXTENDED')) as unknown as [[{ Checksum: string }]];
      expect(copy.Checksum).toBe(src.Checksum);
      const [tables] = (await conn.query('SHOW TABLES FROM scratch')) as unknown as [unknown[]];
      expect(tables).toHaveLength(1);
      const [triggers] = (await conn.query('SHOW TRIGGERS FROM scratch')) as unknown as [unknown[]];
      expect(triggers).toHaveLength(0);
    } finally {
      await conn.end();
    }
  });

  it('restores a single database with --force over an existing copy', async () => {
    const r = await runCli(['restore', backupId, '--target', target.url, '--database', 'fidelity', '--force'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const [a, b] = await Promise.all([fingerprint(mariadb().url, 'fidelity'), fingerprint(target.url, 'fidelity')]);
    expect(diffFingerprints(a, b)).toEqual([]);
  });
});
