// A backup part bigger than one S3 object holds (10,000 parts of at most 8 MiB, ~75 GiB) is
// stored as a run of objects, so the uploader's memory stays bounded at any database size.
// Here the S3 driver is opened with objects of two 5 MiB parts, so a ~30 MB table's part
// spans several: the manifest must list them, and verify, restore and prune must treat the
// run as the one part it is. Real MariaDB, mariadb-dump, zstd, age and the S3 server.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, mariadb } from '../helpers/mariadb.js';
import { makeKeys, runCli } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { BackupSink } from '../../src/backup/backup-sink.js';
import { withConnection } from '../../src/mysql/client.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { startSandboxServer } from '../../src/sandbox/process-server.js';
import { readmeRunbook } from '../helpers/readme-runbook.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { BackupManifest } from '../../src/manifest/backup-manifest.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';

const MiB = 1024 * 1024;
let s3: S3TestServer;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let env: Record<string, string>;
let source: { name: string; conn: MysqlConn };
let manifest: BackupManifest;

async function tableSum(conn: MysqlConn, db: string): Promise<string> {
  return withConnection(conn, async (c) => {
    const [row] = await c.query<{ s: string }>(`SELECT SHA2(GROUP_CONCAT(SHA2(b, 256) ORDER BY id SEPARATOR ''), 256) AS s FROM \`${db}\`.blobs`);
    return row!.s;
  });
}

beforeAll(async () => {
  [s3, keys] = await Promise.all([startS3Server(), makeKeys()]);
  source = await freshDatabase('seg_big');
  await withConnection(source.conn, async (db) => {
    await db.exec('CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB NOT NULL)');
    // Random bytes do not compress: the part stays ~30 MB stored.
    for (let i = 0; i < 28; i++) await db.exec('INSERT INTO blobs VALUES (?, ?)', [i, randomBytes(MiB)]);
  });
  env = { ...s3TestEnv, ...keys.env, DBOPS_STORAGE_URL: s3.url('segmented'), DBOPS_SOURCE_URL: mariadb().url };
  const init = await runCli(['init'], env);
  expect(init.exitCode, init.stderr).toBe(0);
  const storage = await openStorage(env.DBOPS_STORAGE_URL!, { s3: { partSize: 5 * MiB, maxPartsPerObject: 2 } });
  const repo = await openRepository(storage, { signer: await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE!) });
  const recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  manifest = await runBackup({ repo, source: mariadb().conn, recipients, databases: ['seg_big'], compressionLevel: 1, compressionThreads: 1, includeAccounts: false });
}, 180_000);

afterAll(async () => {
  await s3?.cleanup();
});

describe('a backup part stored as a run of S3 objects', () => {
  it('is recorded in the manifest as the run of its objects, in order', () => {
    const part = manifest.parts.find((p) => p.kind === 'table' && p.table === 'blobs')!;
    expect(part.segments?.length).toBeGreaterThanOrEqual(3);
    expect(part.segments![0]!.key).toBe(part.key);
    expect(part.segments!.slice(1).map((s) => s.key)).toEqual(part.segments!.slice(1).map((_, i) => `${part.key}.${String(i + 2).padStart(5, '0')}`));
    expect(part.segments!.reduce((n, s) => n + s.storedBytes, 0)).toBe(part.storedBytes);
    expect(part.segments!.slice(0, -1).every((s) => s.storedBytes === 10 * MiB)).toBe(true);
  });

  it('verifies by its stored hash and by its content', async () => {
    const { DBOPS_AGE_IDENTITY_FILE: _identity, ...noKey } = env;
    const stored = await runCli(['verify', manifest.id], noKey);
    expect(stored.exitCode, stored.stderr).toBe(0);
    expect(stored.stdout).toMatch(/OK .*stored hashes only/);
    const content = await runCli(['verify', manifest.id], env);
    expect(content.exitCode, content.stderr).toBe(0);
    expect(content.stdout).toMatch(/OK .*decrypted and hashed/);
  });

  it('restores equal to the source', async () => {
    const r = await runCli(['restore', manifest.id, '--database', 'seg_big', '--into-schema', 'seg_big_back', '--force', '--target', mariadb().url], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await tableSum(mariadb().conn, 'seg_big_back')).toBe(await tableSum(source.conn, 'seg_big'));
  });

  it('restores by hand with the README runbook and stock tools, from a copy of the bucket', async () => {
    const storage = await openStorage(env.DBOPS_STORAGE_URL!);
    const copy = await tempDir('dbops-segmented-copy-');
    for await (const o of storage.list('')) {
      await mkdir(dirname(join(copy, o.key)), { recursive: true });
      await writeFile(join(copy, o.key), await storage.getBuffer(o.key));
    }
    const work = await tempDir('dbops-segmented-runbook-');
    const target = await startSandboxServer({ binlog: false });
    try {
      await writeFile(join(work, 'target.cnf'), `[client]\nuser=root\npassword=${target.conn.password}\nhost=127.0.0.1\nport=${target.port}\n`, { mode: 0o600 });
      await writeFile(join(work, 'runbook.sh'), await readmeRunbook());
      const r = await execa('bash', [join(work, 'runbook.sh')], {
        reject: false,
        extendEnv: false,
        env: { PATH: process.env.PATH!, HOME: work, REPO: copy, BACKUP: manifest.id, TO: '', BEFORE: '', IDENTITY: keys.env.DBOPS_AGE_IDENTITY_FILE!, SIGNING_PUB: join(keys.dir, 'signing.pub'), TARGET_CNF: join(work, 'target.cnf'), ACCOUNTS: 'no', WORK: work },
      });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(await tableSum(target.conn, 'seg_big')).toBe(await tableSum(source.conn, 'seg_big'));
    } finally {
      await target.stop();
    }
  });

  it('with one of its objects gone, fails verify (exit 3) naming that object', async () => {
    const part = manifest.parts.find((p) => p.kind === 'table' && p.table === 'blobs')!;
    const storage = await openStorage(env.DBOPS_STORAGE_URL!);
    const gone = part.segments![1]!.key;
    const bytes = await storage.getBuffer(gone);
    await storage.remove(gone);
    try {
      const { DBOPS_AGE_IDENTITY_FILE: _identity, ...noKey } = env;
      const r = await runCli(['verify', manifest.id], noKey);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toContain(gone);
    } finally {
      await storage.put(gone, bytes);
    }
  });

  it('is removed whole when its backup fails after it was stored', async () => {
    const storage = await openStorage(env.DBOPS_STORAGE_URL!, { s3: { partSize: 5 * MiB, maxPartsPerObject: 2 } });
    const sink = new BackupSink({ storage, backupId: '20261207T000000Z-segfal', recipients: await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]), compressionLevel: 1, compressionThreads: 1 });
    await sink.store({ kind: 'accounts' }, randomBytes(23 * MiB), null);
    const [stored] = await sink.finish();
    expect(stored!.object.segments?.length).toBe(3);
    const result = await sink.abortAll(new Error('a later part failed'));
    expect(result).toEqual({ notRemoved: [], problem: null });
    const left: string[] = [];
    for await (const o of storage.list('backups/20261207T000000Z-segfal/')) left.push(o.key);
    expect(left).toEqual([]);
  });

  it('is removed whole when prune deletes its backup', async () => {
    const storage = await openStorage(env.DBOPS_STORAGE_URL!);
    // A newer backup of the database (a plain one), so the policy may let the segmented one go.
    const newer = await runCli(['backup', '--databases', 'seg_big'], env);
    expect(newer.exitCode, newer.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    const r = await runCli(['prune', '--apply', '--json'], { ...env, DBOPS_RETENTION_DAILY: '1', DBOPS_RETENTION_WEEKLY: '0', DBOPS_RETENTION_MONTHLY: '0', DBOPS_RETENTION_PITR_WINDOW: '1s' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { applied: { backups: string[] } }).applied.backups).toEqual([manifest.id]);
    const left: string[] = [];
    for await (const o of storage.list(`backups/${manifest.id}/`)) left.push(o.key);
    expect(left).toEqual([]);
  });
});
