// Object Lock end to end on an S3 repository (s3rver behind the Object Lock emulator, which
// records every request): real backups of the shared MariaDB and its real shipped binlogs.
//  - every object of a backup and of a binlog segment is uploaded with the lock mode and
//    retain-until = upload + pitrWindow + objectLockMargin (the shipper's heartbeat: none);
//  - `dbops prune --apply` cannot delete what is still locked: it leaves every such object
//    in place, says so, exits 0, and the backup stays listed and verifiable; once the lock
//    has passed the next prune removes it (only version-by-version deletes, never a delete
//    marker); an AccessDenied with no readable retention is also left alone;
//  - prune puts kept legal-hold backups under an S3 legal hold and raises the lock of a kept
//    monthly to the plan's keepAtLeastUntil (a clock one month on), parts before manifest,
//    once; repo.json follows (held, and locked as long as the longest promise).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mariadb, freshDatabase } from '../helpers/mariadb.js';
import { runCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startObjectLockProxy, type ObjectLockProxy } from '../helpers/object-lock-proxy.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey, type SigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { withConnection } from '../../src/mysql/client.js';
import { runPrune } from '../../src/retention/prune.js';
import type { ApplyResult } from '../../src/retention/apply-plan.js';

const DAY = 86_400_000;
const PERIOD = 8 * DAY; // the default 7d pitrWindow + 1d objectLockMargin
let s3: S3TestServer;
let proxy: ObjectLockProxy;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let signingKey: SigningKey;
let recipients: string[];

beforeAll(async () => {
  keys = await makeKeys();
  signingKey = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  s3 = await startS3Server();
  proxy = await startObjectLockProxy(s3);
});

afterAll(async () => {
  await proxy?.close();
  await s3?.cleanup();
});

async function backup(repo: Repository, database: string, labels: Record<string, string> = {}): Promise<string> {
  const m = await runBackup({ repo, source: mariadb().conn, recipients, databases: [database], compressionLevel: 1, compressionThreads: 1, includeAccounts: false, labels });
  await writeAndRotate(database, m.id);
  return m.id;
}

async function writeAndRotate(database: string, note: string): Promise<void> {
  await withConnection(mariadb().conn, async (db) => {
    await db.exec(`INSERT INTO \`${database}\`.t (v) VALUES ('after ${note}')`);
    await db.exec('FLUSH BINARY LOGS');
  });
}

describe('Object Lock on an S3 repository, end to end', () => {
  it('locks every upload, and prune leaves what is locked, raises what it keeps, and removes what has expired', async () => {
    const db = await freshDatabase('object_lock_e2e');
    await withConnection(mariadb().conn, (c) => c.exec('CREATE TABLE object_lock_e2e.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(80))'));
    const url = proxy.url('repo');
    const env = { ...keys.env, DBOPS_STORAGE_URL: url, DBOPS_STORAGE_OBJECT_LOCK: 'compliance', DBOPS_SOURCE_URL: mariadb().url, DBOPS_SOURCE_DATABASES: db.name, DBOPS_BACKUP_ACCOUNTS: 'false', DBOPS_COMPRESSION_LEVEL: '1' };

    const init = await runCli(['init'], env);
    expect(init.exitCode, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/\(Object Lock compliance\)/);

    // 1. A backup by the CLI: every object of it was uploaded locked, as designed.
    const t0 = Date.now();
    const cli = await runCli(['backup'], env);
    const t1 = Date.now();
    expect(cli.exitCode, cli.stderr).toBe(0);
    const b1 = cli.stdout.trim();
    await writeAndRotate(db.name, b1);
    const uploads = proxy.requests.filter((r) => r.key?.startsWith(`repo/backups/${b1}/`) && ((r.method === 'PUT' && r.query.length === 0) || (r.method === 'POST' && r.query.includes('uploads'))));
    expect(uploads.length).toBeGreaterThanOrEqual(3); // database, table, manifest
    expect(uploads.some((r) => r.key === `repo/backups/${b1}/manifest.json`)).toBe(true);
    for (const u of uploads) {
      expect(u, u.key!).toMatchObject({ lockMode: 'COMPLIANCE', status: 200 });
      if (u.method === 'PUT') expect(u.contentMd5, u.key!).toBe(true);
      const until = Date.parse(u.retainUntil!);
      expect(until, u.key!).toBeGreaterThanOrEqual(t0 + PERIOD - 1000);
      expect(until, u.key!).toBeLessThanOrEqual(t1 + PERIOD + 1000);
    }
    // The manifest (commit marker, written last) is locked at least as long as every part.
    const b1Versions = proxy.keys(`repo/backups/${b1}/`).map((k) => ({ k, v: proxy.versions(k)[0]! }));
    const manifestUntil = b1Versions.find((x) => x.k.endsWith('manifest.json'))!.v.retainUntil!.getTime();
    expect(b1Versions.every((x) => x.v.retainUntil!.getTime() <= manifestUntil)).toBe(true);

    // 2. Two more backups (one under legal hold) and the binlogs, through a locking repository.
    const storage = await openStorage(url, { objectLock: { mode: 'compliance', uploadPeriodMs: PERIOD } });
    const repo = await openRepository(storage, { signer: signingKey });
    const b2 = await backup(repo, db.name, { 'legal-hold': 'case-11' });
    const b3 = await backup(repo, db.name);
    const shipStart = proxy.requests.length;
    const shipped = await shipBinlogs({ repo, source: mariadb().conn, recipients, compressionLevel: 1, compressionThreads: 1, spoolRoot: join(tmpdir(), `dbops-lock-spool-${process.pid}`), maxLagSeconds: 60, once: true });
    const source = shipped.serverUuid;
    const shipPuts = proxy.requests.slice(shipStart).filter((r) => r.method === 'PUT' && r.query.length === 0 && r.key?.startsWith(`repo/binlogs/${source}/`));
    const segmentPuts = shipPuts.filter((r) => !r.key!.includes('/state/'));
    expect(segmentPuts.length).toBeGreaterThanOrEqual(4);
    expect(segmentPuts.every((r) => r.lockMode === 'COMPLIANCE' && r.retainUntil !== undefined)).toBe(true);
    expect(shipPuts.filter((r) => r.key!.includes('/state/')).every((r) => r.lockMode === undefined)).toBe(true);
    // Debris: an unfinished backup (parts, no manifest) whose delete the store refuses with a bare
    // 403 (no retention to read: a lock this identity may not see, or a missing grant).
    await storage.put('backups/20200101T000000Z-aaaaaa/parts/0001.sql.zst.age', Buffer.from('unfinished'), { unlocked: true });
    proxy.denyDelete = (k) => k.includes('20200101T000000Z-aaaaaa');
    await new Promise((r) => setTimeout(r, 1100));

    // 3. Prune: b1 is beyond the counts but locked; the binlogs before b3's point too; the debris too.
    const pruneEnv = { ...env, DBOPS_RETENTION_DAILY: '1', DBOPS_RETENTION_WEEKLY: '0', DBOPS_RETENTION_MONTHLY: '0', DBOPS_RETENTION_PITR_WINDOW: '1s', DBOPS_RETENTION_GRACE_FOR_INCOMPLETE: '1s' };
    const before = proxy.keys('repo/');
    const segsBefore = (await repo.binlogs.segments(source)).segments;
    const first = await runCli(['prune', '--apply', '--json'], pruneEnv);
    expect(first.exitCode, first.stderr).toBe(0);
    const out1 = JSON.parse(first.stdout) as { objectLock: string; plan: { backups: Array<{ id: string; action: string }> }; applied: ApplyResult; problems: string[] };
    expect(out1.objectLock).toBe('compliance');
    expect(out1.plan.backups.find((b) => b.id === b1)!.action).toBe('delete');
    // (s3rver cannot list unfinished uploads: that note is expected; nothing else.)
    expect(out1.problems.filter((p) => !/does not support ListMultipartUploads/.test(p))).toEqual([]);
    expect(out1.applied.backups).toEqual([]);
    expect(out1.applied.segments).toBe(0);
    expect(out1.applied.debris).toEqual([]);
    const byKind = Object.fromEntries(out1.applied.locked.map((l) => [l.kind, l]));
    expect(byKind.backup).toMatchObject({ name: b1, note: expect.stringMatching(new RegExp(`^backup ${b1} stays for now: its manifest is under Object Lock until .*; a prune after that removes it$`)) });
    expect(Date.parse(byKind.backup!.until!)).toBeGreaterThan(Date.now() + 7 * DAY);
    expect(byKind.segments!.note).toMatch(new RegExp(`binlog file\\(s\\) of ${source} from .* stay for now`));
    expect(byKind.debris).toMatchObject({ name: '20200101T000000Z-aaaaaa', until: null, note: 'incomplete-backup 20200101T000000Z-aaaaaa: 1 of 1 object(s) is refused (AccessDenied) with no readable retention, so treated as locked; a later prune tries again' });
    // b2 is kept under legal hold: every one of its objects now carries an S3 legal hold, and so
    // does repo.json, which every backup is checked against.
    expect(out1.applied.extended).toEqual([expect.objectContaining({ id: b2, legalHold: true, until: null }), { id: 'repo.json', legalHold: true, until: null, objects: 1 }]);
    expect(proxy.versions('repo/repo.json').at(-1)!.legalHold).toBe(true);
    const b2Keys = proxy.keys(`repo/backups/${b2}/`);
    expect(b2Keys.length).toBeGreaterThanOrEqual(3);
    expect(b2Keys.every((k) => proxy.versions(k).at(-1)!.legalHold)).toBe(true);
    // Nothing was lost: every object is still there and b1 still lists and verifies.
    expect(proxy.keys('repo/')).toEqual(before);
    expect((await repo.backups.list()).map((b) => b.id).sort()).toEqual([b1, b2, b3].sort());
    const verify1 = await runCli(['verify', b1], env);
    expect(verify1.exitCode, verify1.stderr + verify1.stdout).toBe(0);

    // 4. Time passes for b1 and the binlogs; the debris' delete is still refused.
    proxy.expire((k) => k.startsWith(`repo/backups/${b1}/`) || k.startsWith(`repo/binlogs/`));
    const second = await runCli(['prune', '--apply'], pruneEnv);
    proxy.denyDelete = undefined;
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/still locked: incomplete-backup 20200101T000000Z-aaaaaa: 1 of 1 object\(s\) is refused \(AccessDenied\) with no readable retention, so treated as locked; a later prune tries again/);
    expect(second.stdout).toMatch(/deleted 1 backup\(s\), \d+ binlog file\(s\), 0 debris item\(s\); 1 item\(s\) still under Object Lock were left in place/);
    expect(proxy.keys(`repo/backups/${b1}/`)).toEqual([]);
    expect((await repo.backups.list()).map((b) => b.id).sort()).toEqual([b2, b3].sort());
    const segsAfter = (await repo.binlogs.segments(source)).segments;
    expect(segsAfter.length).toBeLessThan(segsBefore.length);
    expect(proxy.keys('repo/backups/20200101T000000Z-aaaaaa/')).toHaveLength(1);
    // Deletes were version by version only: nothing hidden behind a delete marker.
    const deletes = proxy.requests.filter((r) => r.method === 'DELETE' && r.key?.startsWith('repo/'));
    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.filter((r) => !r.query.includes('versionId'))).toEqual([]);
    // What the window needs is whole: b3 verifies, and b2 too.
    for (const id of [b2, b3]) {
      const v = await runCli(['verify', id], env);
      expect(v.exitCode, v.stderr + v.stdout).toBe(0);
    }

    // 5. A month on, b3 is the newest of an ended month: monthly 1 of 3 keeps it at least until
    //    two more months have a backup, so prune raises its lock to the start of the third month.
    const now = new Date();
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 1));
    const expected = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 3, 1)).toISOString();
    const policy = { daily: 1, weekly: 0, monthly: 3, pitrWindowMs: DAY, graceForIncompleteMs: DAY, legalHoldLabel: 'legal-hold' };
    const mark = proxy.requests.length;
    const later = await runPrune({ repo, storageUrl: url, policy, apply: true, now: nextMonth });
    const planned = later.plan.backups.find((b) => b.id === b3)!;
    expect(planned).toMatchObject({ action: 'keep', keepAtLeastUntil: expected });
    // repo.json follows the longest promise: it must outlive every backup.
    expect(later.applied!.extended).toEqual([
      { id: b3, until: expected, legalHold: false, objects: proxy.keys(`repo/backups/${b3}/`).length },
      { id: 'repo.json', until: expected, legalHold: false, objects: 1 },
    ]);
    for (const k of [...proxy.keys(`repo/backups/${b3}/`), 'repo/repo.json']) expect(proxy.versions(k).at(-1)!.retainUntil!.toISOString(), k).toBe(expected);
    const raised = proxy.requests.slice(mark).filter((r) => r.query.includes('retention') && r.method === 'PUT');
    expect(raised.every((r) => r.retention!.mode === 'COMPLIANCE' && new Date(r.retention!.until).toISOString() === expected && r.status === 200)).toBe(true);
    expect(raised.filter((r) => r.key!.startsWith(`repo/backups/${b3}/`)).at(-1)!.key).toBe(`repo/backups/${b3}/manifest.json`);
    // Raised once: the manifest's lock already covers the promise on the next run.
    expect(later.applied!.debris).toEqual(['20200101T000000Z-aaaaaa']);
    const again = await runPrune({ repo, storageUrl: url, policy, apply: true, now: nextMonth });
    expect(again.applied!.extended).toEqual([]);
    expect(again.applied!.locked).toEqual([]);
  });
});
