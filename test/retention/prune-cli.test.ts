// `dbops prune` end to end on real repositories: real backups of the shared MariaDB and
// its real shipped binlogs in a file:// repository, a dry run that deletes nothing, an
// --apply that follows the plan; and on the S3 protocol server, the unfinished-upload
// paths that server does not implement (listing 501, abort 405) reported, not fatal.
import { describe, it, expect, beforeAll } from 'vitest';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { mariadb, freshDatabase } from '../helpers/mariadb.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startS3Server } from '../helpers/s3-server.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey, type SigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { binlogSeq } from '../../src/binlog/file-names.js';
import { withConnection } from '../../src/mysql/client.js';
import { runPrune } from '../../src/retention/prune.js';
import { abortIncompleteUpload } from '../../src/retention/incomplete-uploads.js';
import type { BackupManifest } from '../../src/manifest/backup-manifest.js';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let signingKey: SigningKey;
let recipients: string[];

beforeAll(async () => {
  keys = await makeKeys();
  signingKey = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
});

async function backup(repo: Repository, database: string, labels: Record<string, string> = {}): Promise<BackupManifest> {
  const m = await runBackup({ repo, source: mariadb().conn, recipients, databases: [database], compressionLevel: 1, compressionThreads: 1, includeAccounts: false, labels });
  await withConnection(mariadb().conn, async (db) => {
    await db.exec(`INSERT INTO \`${database}\`.t (v) VALUES ('after ${m.id}')`);
    await db.exec('FLUSH BINARY LOGS');
  });
  return m;
}

describe('dbops prune on a file:// repository', () => {
  it('prints the plan without deleting, then applies it', async () => {
    const db = await freshDatabase('prune_e2e');
    await withConnection(mariadb().conn, (c) => c.exec('CREATE TABLE prune_e2e.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(80))'));
    const { url, dir } = await tempRepoUrl();
    const storage = await openStorage(url);
    await initRepository(storage, signingKey, recipients);
    const repo = await openRepository(storage, { signer: signingKey });
    const b1 = await backup(repo, db.name);
    const b2 = await backup(repo, db.name, { 'legal-hold': 'case-7' });
    const b3 = await backup(repo, db.name);
    const shipped = await shipBinlogs({ repo, source: mariadb().conn, recipients, compressionLevel: 1, compressionThreads: 1, spoolRoot: join(tmpdir(), `dbops-prune-spool-${process.pid}`), maxLagSeconds: 60, once: true });
    const source = shipped.serverUuid;
    expect(b3.source.serverUuid).toBe(source);
    // Debris: an unfinished backup from three days ago and one still being written.
    await storage.put('backups/20200101T000000Z-aaaaaa/parts/0001.sql.zst.age', Buffer.from('old'));
    await utimes(join(dir, 'backups/20200101T000000Z-aaaaaa/parts/0001.sql.zst.age'), new Date(Date.now() - 3 * 86_400_000), new Date(Date.now() - 3 * 86_400_000));
    await storage.put('backups/20990101T000000Z-bbbbbb/parts/0001.sql.zst.age', Buffer.from('in progress'));
    await new Promise((r) => setTimeout(r, 1100));

    const env = { ...keys.env, DBOPS_STORAGE_URL: url, DBOPS_RETENTION_DAILY: '1', DBOPS_RETENTION_WEEKLY: '0', DBOPS_RETENTION_MONTHLY: '0', DBOPS_RETENTION_PITR_WINDOW: '1s' };
    const dry = await runCli(['prune'], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`DELETE backup ${b1.id} .*beyond the daily 1`));
    expect(dry.stdout).toMatch(new RegExp(`keep   backup ${b2.id} .*legal hold \\(label legal-hold=case-7\\)`));
    expect(dry.stdout).toMatch(new RegExp(`keep   backup ${b3.id} .*newest good backup.*pitr: newest full at or before the window start`));
    expect(dry.stdout).toMatch(/DELETE incomplete-backup 20200101T000000Z-aaaaaa/);
    expect(dry.stdout).toMatch(/keep   incomplete-backup 20990101T000000Z-bbbbbb .*in progress/);
    expect(dry.stdout).toMatch(/dry run: nothing deleted/);
    // Ids sort by second: backups of the same second list in random-suffix order.
    expect((await repo.backups.list()).map((b) => b.id).sort()).toEqual([b1.id, b2.id, b3.id].sort());
    const segsBefore = (await repo.binlogs.segments(source)).segments;
    const cut = binlogSeq(b3.consistentPoint.binlogFile!);
    expect(segsBefore.some((s) => s.sequence < cut)).toBe(true);

    const applied = await runCli(['prune', '--apply', '--json'], env);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const out = JSON.parse(applied.stdout) as { applied: { backups: string[]; segments: number; debris: string[] } };
    expect(out.applied.backups).toEqual([b1.id]);
    expect(out.applied.debris).toEqual(['20200101T000000Z-aaaaaa']);
    expect((await repo.backups.list()).map((b) => b.id).sort()).toEqual([b2.id, b3.id].sort());
    const segsAfter = (await repo.binlogs.segments(source)).segments;
    expect(out.applied.segments).toBe(segsBefore.length - segsAfter.length);
    expect(segsAfter.length).toBeGreaterThan(0);
    expect(Math.min(...segsAfter.map((s) => s.sequence))).toBe(cut);
    const left: string[] = [];
    for await (const o of storage.list('backups/')) left.push(o.key);
    expect(left.some((k) => k.includes(b1.id) || k.includes('20200101T000000Z-aaaaaa'))).toBe(false);
    expect(left.some((k) => k.includes('20990101T000000Z-bbbbbb'))).toBe(true);

    // A second prune finds nothing more to do.
    const again = await runPrune({ repo, storageUrl: url, policy: { daily: 1, weekly: 0, monthly: 0, pitrWindowMs: 1000, graceForIncompleteMs: 86_400_000, legalHoldLabel: 'legal-hold' }, apply: false });
    expect(again.plan.totals).toMatchObject({ deleteBackups: 0, deleteSegments: 0, deleteDebris: 0 });
  });
});

describe('unfinished uploads on the S3 protocol server', () => {
  it('reports that the store cannot list or abort them, and prunes the rest', async () => {
    const s3 = await startS3Server();
    try {
      const url = s3.url('prune');
      const storage = await openStorage(url);
      await initRepository(storage, signingKey, recipients);
      const repo = await openRepository(storage, { signer: signingKey });
      const r = await runPrune({ repo, storageUrl: url, policy: { daily: 1, weekly: 0, monthly: 0, pitrWindowMs: 1000, graceForIncompleteMs: 1000, legalHoldLabel: 'legal-hold' }, apply: true });
      expect(r.problems.join()).toMatch(/does not support ListMultipartUploads \(501\).*lifecycle rule/);
      const driver = new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1' });
      const up = await driver.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'prune/backups/x/parts/a' }));
      await driver.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: 'prune/backups/x/parts/a', UploadId: up.UploadId, PartNumber: 1, Body: Buffer.alloc(16) }));
      const problem = await abortIncompleteUpload(url, 'backups/x/parts/a', up.UploadId!);
      expect(problem).toMatch(/refused AbortMultipartUpload for backups\/x\/parts\/a \(405\)/);
      driver.client.destroy();
    } finally {
      await s3.cleanup();
    }
  });
});
