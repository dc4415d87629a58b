// Faults of `dbops prune --apply`: kill -9 and SIGTERM in the middle of a run, at exact
// points of its storage traffic (a proxy in front of the S3 server holds the request the
// test waits for): after a backup's manifest went but not its parts, after a binlog
// segment's manifest went but not its data, and a SIGTERM while a backup is being removed.
// Each case checks that nothing a restore needs was lost — every listed backup verifies
// (every part decrypted), every backup and binlog the plan keeps is there and intact, each
// database can still be recovered to the newest shipped point — and that a second prune
// finishes the job and leaves no debris. The repository: real backups of the real MariaDB,
// of two databases in mixed scopes, and its real shipped binlogs, copied once per case.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mariadb } from '../helpers/mariadb.js';
import { makeKeys, runCli, startCli } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { startHoldProxy, type HoldProxy, type SeenRequest } from '../helpers/s3-hold-proxy.js';
import { withConnection } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey, type SigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { binlogSeq } from '../../src/binlog/file-names.js';
import { verifyBackup } from '../../src/verify/verify-backup.js';
import { runPrune } from '../../src/retention/prune.js';
import type { RetentionPlan, RetentionPolicy } from '../../src/retention/types.js';
import { parseSourceKey } from '../../src/storage/layout.js';

const DBS = ['pf_a', 'pf_b'];
/** Scopes in time order: the newest of pf_b (a backup of pf_b alone) is older than the newest of pf_a. */
const SCHEDULE = [DBS, ['pf_a'], DBS, ['pf_b'], ['pf_a'], ['pf_a']];

let keys: Awaited<ReturnType<typeof makeKeys>>;
let signingKey: SigningKey;
let s3: S3TestServer;
let proxy: HoldProxy;
let seedIds: string[];
let cases = 0;

beforeAll(async () => {
  keys = await makeKeys();
  signingKey = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  const recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  s3 = await startS3Server();
  proxy = await startHoldProxy(s3);
  await withConnection(mariadb().conn, async (db) => {
    for (const name of DBS) {
      await db.exec(`DROP DATABASE IF EXISTS ${name}`);
      await db.exec(`CREATE DATABASE ${name}`);
      await db.exec(`CREATE TABLE ${name}.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(60))`);
      await db.exec(`INSERT INTO ${name}.t (v) VALUES ('one'), ('two'), ('three')`);
    }
  });
  const storage = await openStorage(s3.url('seed'));
  await initRepository(storage, signingKey, recipients);
  const repo = await openRepository(storage, { signer: signingKey });
  seedIds = [];
  for (const databases of SCHEDULE) {
    const m = await runBackup({ repo, source: mariadb().conn, recipients, databases, compressionLevel: 1, compressionThreads: 1, includeAccounts: false });
    seedIds.push(m.id);
    await withConnection(mariadb().conn, async (db) => {
      for (const name of DBS) await db.exec(`INSERT INTO ${name}.t (v) VALUES ('after ${m.id}')`);
      await db.exec('FLUSH BINARY LOGS');
    });
  }
  await shipBinlogs({ repo, source: mariadb().conn, recipients, compressionLevel: 1, compressionThreads: 1, spoolRoot: join(tmpdir(), `dbops-faults-prune-${process.pid}`), maxLagSeconds: 60, once: true });
}, 300_000);

afterAll(async () => {
  await proxy?.close();
  await s3?.cleanup();
  await withConnection(mariadb().conn, async (db) => {
    for (const name of DBS) await db.exec(`DROP DATABASE IF EXISTS ${name}`);
  });
});

/** A fresh copy of the seed repository (every object), and the prune environment through the proxy. */
async function freshRepository(): Promise<{ repo: Repository; env: Record<string, string>; url: string }> {
  const prefix = `case${++cases}`;
  const from = await openStorage(s3.url('seed'));
  const to = await openStorage(s3.url(prefix));
  for await (const o of from.list('')) await to.put(o.key, await from.getBuffer(o.key));
  // Debris left by a killed prune must be older than the grace to be removed by the next one.
  await new Promise((r) => setTimeout(r, 1100));
  const env = {
    ...s3TestEnv,
    ...keys.env,
    DBOPS_STORAGE_URL: proxy.url(prefix),
    // POLICY, for the CLI.
    DBOPS_RETENTION_DAILY: '1',
    DBOPS_RETENTION_WEEKLY: '0',
    DBOPS_RETENTION_MONTHLY: '0',
    DBOPS_RETENTION_PITR_WINDOW: '1s',
    DBOPS_RETENTION_GRACE_FOR_INCOMPLETE: '1s',
  };
  return { repo: await openRepository(to, { signer: signingKey }), env, url: s3.url(prefix) };
}

const POLICY: RetentionPolicy = { daily: 1, weekly: 0, monthly: 0, pitrWindowMs: 1000, graceForIncompleteMs: 1000, legalHoldLabel: 'legal-hold' };

/** The plan a dry run prints, the library way (the CLI's own runs are the ones interrupted). */
async function dryPlan(repo: Repository, url: string): Promise<RetentionPlan> {
  return (await runPrune({ repo, storageUrl: url, policy: POLICY, apply: false })).plan;
}

/** Everything a restore needs that the plan keeps is there and intact; every listed backup verifies. */
async function assertNothingLost(repo: Repository, plan: RetentionPlan): Promise<void> {
  const listed = (await repo.backups.list()).flatMap((b) => (b.manifest ? [b.manifest] : []));
  const ids = new Set(listed.map((m) => m.id));
  for (const b of plan.backups.filter((x) => x.action === 'keep')) expect(ids.has(b.id), `kept backup ${b.id} is still listed`).toBe(true);
  for (const c of plan.coverage) expect(ids.has(c.newest), `the newest backup of ${c.database} (${c.newest})`).toBe(true);
  for (const m of listed) {
    const v = await verifyBackup(repo, m, keys.env.DBOPS_AGE_IDENTITY_FILE);
    expect(v.parts.filter((p) => !p.ok), `backup ${m.id} verifies`).toEqual([]);
  }
  for (const source of plan.sources) {
    if (!source.keepFrom) continue;
    const segs = (await repo.binlogs.segments(source.serverUuid)).segments;
    const kept = segs.filter((s) => s.sequence >= binlogSeq(source.keepFrom!));
    expect(kept[0]?.file, `binlogs of ${source.serverUuid} from ${source.keepFrom}`).toBe(source.keepFrom);
    for (const s of kept) {
      const data = await repo.storage.getBuffer(s.key);
      expect(createHash('sha256').update(data).digest('hex'), `binlog ${s.file} intact`).toBe(s.storedSha256);
    }
    // Each database: a listed backup holding it whose binlog position starts an unbroken chain to the newest shipped file.
    const have = new Set(segs.map((s) => s.sequence));
    const last = Math.max(...have);
    for (const db of DBS) {
      const bases = listed.filter((m) => m.source.serverUuid === source.serverUuid && m.databases.includes(db) && m.consistentPoint.binlogFile);
      const reaches = bases.some((m) => {
        for (let q = binlogSeq(m.consistentPoint.binlogFile!); q <= last; q++) if (!have.has(q)) return false;
        return true;
      });
      expect(reaches, `${db} can be recovered to the newest shipped binlog`).toBe(true);
    }
  }
}

/** A second prune finishes: nothing more to delete, no objects of deleted backups, no binlog data without a manifest. */
async function assertSecondPruneFinishes(repo: Repository, env: Record<string, string>, url: string, before: RetentionPlan): Promise<void> {
  const r = await runCli(['prune', '--apply', '--json'], env);
  expect(r.exitCode, r.stderr).toBe(0);
  const after = await dryPlan(repo, url);
  expect(after.totals).toEqual({ deleteBackups: 0, deleteSegments: 0, deleteDebris: 0, freedBytes: 0 });
  const kept = new Set(before.backups.filter((b) => b.action === 'keep').map((b) => b.id));
  const backupDirs = new Set<string>();
  for await (const o of repo.storage.list('backups/')) backupDirs.add(o.key.split('/')[1]!);
  expect([...backupDirs].sort()).toEqual([...kept].sort());
  for (const source of await repo.binlogs.sources()) {
    const data = new Set<string>();
    const manifests = new Set<string>();
    for await (const o of repo.storage.list(`binlogs/${source}/`)) {
      const k = parseSourceKey(o.key);
      if (k?.kind === 'data') data.add(k.file);
      if (k?.kind === 'manifest') manifests.add(k.file);
    }
    expect([...data].filter((f) => !manifests.has(f)), 'binlog data without a manifest').toEqual([]);
  }
  await assertNothingLost(repo, before);
}

const isPart = (r: SeenRequest): boolean => r.method === 'DELETE' && /\/backups\/[^/]+\/parts\//.test(r.key ?? '');
const isSegmentData = (r: SeenRequest): boolean => r.method === 'DELETE' && /\/binlogs\/[^/]+\/[^/]+\.zst\.age$/.test(r.key ?? '');

describe('prune --apply interrupted', () => {
  it('the plan deletes old backups of both scopes and old binlogs, and keeps the newest of each database', async () => {
    const { repo, url } = await freshRepository();
    const plan = await dryPlan(repo, url);
    const action = Object.fromEntries(plan.backups.map((b) => [b.id, b.action]));
    // Kept: the newest of pf_b (seed 3, pf_b alone) and of pf_a (seed 5).
    expect(seedIds.map((id) => action[id])).toEqual(['delete', 'delete', 'delete', 'keep', 'delete', 'keep']);
    expect(plan.totals.deleteSegments).toBeGreaterThanOrEqual(3);
  });

  it('kill -9 after a backup manifest went, before its parts: nothing needed is lost, the next prune removes the parts', async () => {
    const { repo, env, url } = await freshRepository();
    const plan = await dryPlan(repo, url);
    const held = proxy.hold(isPart);
    const prune = startCli(['prune', '--apply'], env);
    const request = await Promise.race([held, prune.then(() => Promise.reject(new Error('prune ended before deleting a part')))]);
    prune.kill('SIGKILL');
    const r = await prune;
    request.drop();
    expect(r.signal).toBe('SIGKILL');
    // The backup whose part was held has no manifest any more: it is debris, not a backup.
    const victim = /\/backups\/([^/]+)\//.exec(request.key!)![1]!;
    expect((await repo.backups.list()).map((b) => b.id)).not.toContain(victim);
    const leftover: string[] = [];
    for await (const o of repo.storage.list(`backups/${victim}/`)) leftover.push(o.key);
    expect(leftover.length).toBeGreaterThan(0);
    await assertNothingLost(repo, plan);
    const next = await dryPlan(repo, url);
    expect(next.totals.deleteDebris).toBe(1);
    await assertSecondPruneFinishes(repo, env, url, plan);
  });

  it('kill -9 after a binlog manifest went, before its data: nothing needed is lost, the next prune removes the data', async () => {
    const { repo, env, url } = await freshRepository();
    const plan = await dryPlan(repo, url);
    const held = proxy.hold(isSegmentData);
    const prune = startCli(['prune', '--apply'], env);
    const request = await Promise.race([held, prune.then(() => Promise.reject(new Error('prune ended before deleting binlog data')))]);
    prune.kill('SIGKILL');
    const r = await prune;
    request.drop();
    expect(r.signal).toBe('SIGKILL');
    // Every backup the plan deletes went before the binlogs.
    const listed = (await repo.backups.list()).map((b) => b.id).sort();
    expect(listed).toEqual(plan.backups.filter((b) => b.action === 'keep').map((b) => b.id).sort());
    await assertNothingLost(repo, plan);
    const next = await dryPlan(repo, url);
    expect(next.totals.deleteDebris).toBe(1);
    await assertSecondPruneFinishes(repo, env, url, plan);
  });

  it('SIGTERM while a backup is being removed: it finishes that backup, stops, exits 1 saying so; the next prune finishes', async () => {
    const { repo, env, url } = await freshRepository();
    const plan = await dryPlan(repo, url);
    const held = proxy.hold(isPart);
    const prune = startCli(['prune', '--apply'], env);
    const request = await Promise.race([held, prune.then(() => Promise.reject(new Error('prune ended before deleting a part')))]);
    prune.kill('SIGTERM');
    // Let the signal land before the held removal is answered.
    await new Promise((r) => setTimeout(r, 300));
    request.release();
    const r = await prune;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/prune interrupted by SIGTERM after deleting 1 backup\(s\), 0 binlog file\(s\).*run "dbops prune --apply" again to finish/);
    // The backup under way went whole; the rest waits for the next run.
    const victim = /\/backups\/([^/]+)\//.exec(request.key!)![1]!;
    const leftover: string[] = [];
    for await (const o of repo.storage.list(`backups/${victim}/`)) leftover.push(o.key);
    expect(leftover).toEqual([]);
    await assertNothingLost(repo, plan);
    const next = await dryPlan(repo, url);
    expect(next.totals.deleteBackups).toBe(plan.totals.deleteBackups - 1);
    expect(next.totals.deleteSegments).toBe(plan.totals.deleteSegments);
    await assertSecondPruneFinishes(repo, env, url, plan);
  });
});
