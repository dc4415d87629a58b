// `dbops restore-test`: restore a backup into a throwaway server (never the source), replay
// binlogs to the chosen point, check at the requested depth, measure RTO per phase and RPO
// at report time, and write a signed report. Checks never throw: every outcome lands in the
// report, and the verdict decides the exit code: `fail` only when a check found something
// wrong, `error` when the test could not run, `interrupted` on a signal (whatever broke
// because of the signal is not a finding). The sandbox is always torn down.
import { createHash, randomInt } from 'node:crypto';
import type { Repository } from '../repo/repository.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import { backupIdOfKey, backupManifestKey, newReportId } from '../storage/layout.js';
import { recordEvidence } from '../repo/evidence-log.js';
import { nextUntested, testHealth, testRuns } from '../daemon/test-health.js';
import { verifyBackup } from '../verify/verify-backup.js';
import { runRestore, type RestoreResult } from '../restore/run-restore.js';
import { schemaObjectChecks, rowCountChecks, contentChecks, tableReadChecks } from './restore-checks.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoreDatadir } from '../restore/physical-restore.js';
import { describeChain } from '../physical/chain.js';
import { register, unregister, type Disposable } from '../sandbox/cleanup-registry.js';
import { comparePoints } from './compare-points.js';
import type { Check, RestoreReport, UnsignedReport, Verdict } from '../report/report-schema.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { DbopsError, InterruptedError, UsageError, VerificationError } from '../errors.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { measureRpo } from './rpo.js';
import { VERSION } from '../version.js';
import { log } from '../util/logger.js';
import { type StoredChecksums } from '../repo/checksum-store.js';

export type Depth = 'integrity' | 'restore' | 'content';

/** Internal: replay failed and its check is recorded; stop the test there. */
class ReplayFailed extends Error {}

/** Replays shipped binlogs into the sandbox from the backup's point to `to` (PITR engine). */
export type Replayer = (request: {
  manifest: BackupManifest;
  to: { binlogFile: string; binlogPosition: number };
  target: MysqlConn;
  signal?: AbortSignal;
}) => Promise<{ reached: { binlogFile: string; binlogPosition: number; gtidSet: string | null; time: string | null } }>;

export interface RestoreTestOptions {
  repo: Repository;
  identityFile: string;
  backup: string;
  /** With backup latest: step over backups whose manifest does not verify. */
  skipDamaged?: boolean;
  /** With backup untested: how long a backup may wait for its content-depth test (verify.maxUntestedDays). */
  maxUntestedDays?: number;
  depth: Depth;
  /** A throwaway server for the backup: empty (a logical restore loads into it), or started on a prepared datadir (a physical restore). */
  startSandbox: (manifest: BackupManifest, datadir?: string) => Promise<Sandbox>;
  replay?: Replayer;
  parallel?: number;
  signal?: AbortSignal;
  now?: () => Date;
}

export async function runRestoreTest(options: RestoreTestOptions): Promise<{ report: RestoreReport; keys: { jsonKey: string; htmlKey: string } }> {
  const now = options.now ?? ((): Date => new Date());
  const createdAt = now();
  const checks: Check[] = [];
  const phases: Record<string, number> = {};
  let error: string | undefined;
  let sandboxInfo: UnsignedReport['sandbox'] = { driver: 'none', engine: null, image: null, imageId: null, serverVersion: null };
  let reached: UnsignedReport['target']['reached'] = null;
  let restored: RestoreResult | undefined;
  let requested = 'backup';
  /** Data became usable: the restore ran clean and, when one was needed, the replay reached its point. */
  let usable = false;
  let phase = 'start';
  const interrupted = (): boolean => options.signal?.aborted === true;
  // Checks that finish after a signal ran against a sandbox being torn down (the cleanup
  // registry kills it at once): they are not findings, so only those before it are kept.
  let checksBeforeSignal: number | undefined;
  const onAbort = (): void => void (checksBeforeSignal ??= checks.length);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (interrupted()) throw new InterruptedError(String(options.signal!.reason ?? 'signal'));
    phase = name;
    log.info({ phase }, 'restore-test phase started');
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      phases[name] = (phases[name] ?? 0) + (performance.now() - t0) / 1000;
    }
  };

  // 3. content: replay to a point where the source's checksums were taken, compare every table.
  const contentDepth = async (manifest: BackupManifest, sandbox: Sandbox): Promise<void> => {
    const set = await pickChecksums(options.repo, manifest, options.replay !== undefined);
    if (!set) {
      checks.push({ name: 'source-checksums-available', depth: 'content', ok: false, detail: 'no signed source checksums at or after this backup: run "dbops checksum" (or let the daemon do it) so content can be compared' });
    } else {
      checks.push({ name: 'source-checksums-available', depth: 'content', object: set.id, expected: `${manifest.consistentPoint.binlogFile}:${manifest.consistentPoint.binlogPosition} or later`, actual: `${set.point.binlogFile}:${set.point.binlogPosition}`, ok: true });
      requested = `checksums ${set.id} (${set.point.binlogFile}:${set.point.binlogPosition})`;
      if (comparePoints(set.point, manifest.consistentPoint) > 0) {
        if (!options.replay) throw new UsageError('content check needs binlog replay from the backup to the checksum point, and no shipped binlogs are available: run "dbops binlog ship"');
        // A binlog chain that cannot be replayed (missing or damaged segment, gap) means the
        // point is not recoverable: a failed check, not an error of the test.
        usable = false;
        try {
          const r = await timed('replay', () => options.replay!({ manifest, to: set.point, target: sandbox!.conn, ...(options.signal ? { signal: options.signal } : {}) }));
          reached = r.reached;
          usable = true;
          checks.push({ name: 'binlog-replay', depth: 'content', expected: `${set.point.binlogFile}:${set.point.binlogPosition}`, actual: `${r.reached.binlogFile}:${r.reached.binlogPosition}`, ok: true });
        } catch (err) {
          if (err instanceof InterruptedError || interrupted()) throw err;
          checks.push({ name: 'binlog-replay', depth: 'content', expected: `${set.point.binlogFile}:${set.point.binlogPosition}`, ok: false, detail: (err as Error).message });
          throw new ReplayFailed();
        }
      }
      await timed('verify', async () => checks.push(...(await contentChecks(set, sandbox!.conn))));
    }
  };

  const picked = await pickBackup(options.repo, options.backup, options.skipDamaged ?? false, options.maxUntestedDays ?? 7, checks);
  const manifest = picked.manifest;
  let sandbox: Sandbox | undefined;
  /** A physical restore's temp dir (the prepared datadir), removed after the sandbox stopped. */
  let scratch: string | undefined;
  let scratchEntry: Disposable | undefined;
  let selection = manifest ? `all databases: ${manifest.databases.join(', ')}` : 'none (manifest rejected)';
  try {
    if (manifest) {
      // 1. integrity: every object's hash, the AEAD of every age chunk, the raw hash.
      // A physical stream is extracted by the restore right after; at integrity depth, here.
      const integrity = await timed('integrity', () => verifyBackup(options.repo, manifest, options.identityFile, undefined, { extract: options.depth === 'integrity' }));
      for (const p of integrity.parts) checks.push({ name: 'part-integrity', depth: 'integrity', object: p.key, ok: p.ok, ...(p.problem ? { detail: p.problem } : {}) });
      const intact = integrity.ok;
      reached = { ...manifest.consistentPoint, time: manifest.completedAt };

      if (intact && options.depth !== 'integrity' && manifest.kind === 'physical') {
        // 2. restore: the chain fetched, extracted and prepared, a server started on it (the
        // start is part of the RTO: the data is usable only then), objects and tables checked.
        let restoredChain: string[] = [];
        try {
          scratch = await mkdtemp(join(tmpdir(), 'dbops-restore-test-'));
          scratchEntry = { pid: undefined, dir: scratch };
          register(scratchEntry);
          const datadir = join(scratch, 'datadir');
          const r = await timed('restore', () => restoreDatadir({ repo: options.repo, manifest, identityFile: options.identityFile, datadir, ...(options.signal ? { signal: options.signal } : {}) }));
          restoredChain = r.chain;
          phases.fetch = r.phases.fetch;
          phases.prepare = r.phases.prepare;
          sandbox = await timed('sandbox', () => options.startSandbox(manifest, datadir));
          checks.push({ name: 'restore-ran-clean', depth: 'restore', ...(r.chain.length > 1 ? { detail: `chain ${describeChain(r.chain)} applied` } : {}), ok: true });
          usable = true;
        } catch (err) {
          checks.push({ name: 'restore-ran-clean', depth: 'restore', ok: false, detail: (err as Error).message });
          throw err;
        }
        const d = sandbox.describe();
        sandboxInfo = { driver: d.driver, engine: d.engine ?? null, image: d.image ?? null, imageId: d.imageId ?? null, serverVersion: d.serverVersion ?? null };
        selection = `physical backup of the whole server (${restoredChain.length > 1 ? `chain ${describeChain(restoredChain)}` : 'full'}): ${manifest.databases.join(', ')}`;
        const exact = await pickChecksums(options.repo, manifest, false);
        await timed('verify', async () => {
          checks.push(...(await schemaObjectChecks(manifest, sandbox!.conn)));
          checks.push(...(await tableReadChecks(manifest, sandbox!.conn, exact)));
        });
        if (options.depth === 'content') await contentDepth(manifest, sandbox);
      } else if (intact && options.depth !== 'integrity') {
        sandbox = await timed('sandbox', () => options.startSandbox(manifest));
        const d = sandbox.describe();
        sandboxInfo = { driver: d.driver, engine: d.engine ?? null, image: d.image ?? null, imageId: d.imageId ?? null, serverVersion: d.serverVersion ?? null };
        // 2. restore: load everything, then compare objects and row counts with the manifest.
        try {
          restored = await timed('restore', () => runRestore({ repo: options.repo, manifest, target: sandbox!.conn, identityFile: options.identityFile, parallel: options.parallel ?? 2, ...(options.signal ? { signal: options.signal } : {}) }));
          checks.push({ name: 'restore-ran-clean', depth: 'restore', ok: true });
          usable = true;
        } catch (err) {
          checks.push({ name: 'restore-ran-clean', depth: 'restore', ok: false, detail: (err as Error).message });
          throw err;
        }
        await timed('verify', async () => {
          checks.push(...(await schemaObjectChecks(manifest, sandbox!.conn)));
          checks.push(...(await rowCountChecks(manifest, sandbox!.conn, restored?.loadData)));
        });

        if (options.depth === 'content') await contentDepth(manifest, sandbox);
      }
    }
  } catch (err) {
    if (interrupted()) {
      // said below: whatever broke after the signal broke because of it
    } else if (err instanceof ReplayFailed) {
      // already recorded as a failed check
    } else if (err instanceof VerificationError) checks.push({ name: 'verification', depth: 'integrity', object: err.object, ok: false, detail: err.message });
    else error = err instanceof DbopsError ? err.message : `unexpected: ${(err as Error).message}`;
    log.error({ err: (err as Error).message }, 'restore test stopped early');
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (sandbox) await sandbox.stop().catch((e: Error) => log.error({ err: e.message }, 'sandbox teardown failed'));
    if (scratch) await rm(scratch, { recursive: true, force: true }).catch((e: Error) => log.error({ err: e.message, dir: scratch }, 'restored datadir could not be removed'));
    if (scratchEntry) unregister(scratchEntry);
  }

  // A check that failed before a signal is still a finding; nothing after the signal is.
  if (checksBeforeSignal !== undefined) {
    checks.splice(checksBeforeSignal);
    error = `interrupted by ${String(options.signal!.reason ?? 'a signal')} during the ${phase} phase${sandbox ? '; the sandbox was removed' : ''}`;
  }
  const failed = checks.some((c) => !c.ok);
  const verdict: Verdict = failed ? 'fail' : checksBeforeSignal !== undefined ? 'interrupted' : error ? 'error' : 'pass';
  // A physical restore is usable once a server runs on it; a logical one loads into a running server.
  const rtoPhases = (manifest?.kind === 'physical' ? ['restore', 'sandbox', 'replay'] : ['restore', 'replay']).filter((p) => phases[p] !== undefined);
  const rpo = manifest ? await measureRpo(options.repo, manifest.source.serverUuid, now) : { at: now(), rpoSeconds: null, rpo: null };
  const age = (iso: string | undefined): number | null => (iso && Number.isFinite(Date.parse(iso)) ? Math.max(0, Math.round((rpo.at.getTime() - Date.parse(iso)) / 100) / 10) : null);
  const unsigned: UnsignedReport = {
    id: newReportId(createdAt),
    createdAt: createdAt.toISOString(),
    finishedAt: rpo.at.toISOString(),
    tool: { name: 'horizn-dbops', version: VERSION },
    repositoryId: options.repo.config.id,
    source: manifest ? { flavor: manifest.source.flavor, version: manifest.source.version, serverUuid: manifest.source.serverUuid } : { flavor: 'unknown', version: 'unknown', serverUuid: 'unknown' },
    backup: {
      id: picked.id,
      manifestSha256: picked.manifestSha256,
      completedAt: manifest?.completedAt ?? 'unknown',
      consistentPoint: manifest?.consistentPoint ?? { binlogFile: null, binlogPosition: null, gtidSet: null },
      selection,
    },
    target: { requested, reached },
    sandbox: sandboxInfo,
    depth: options.depth,
    checks,
    phases,
    rtoSeconds: usable ? rtoPhases.reduce((n, p) => n + phases[p]!, 0) : null,
    rtoPhases,
    rpoSeconds: rpo.rpoSeconds,
    rpo: rpo.rpo,
    backupAgeSeconds: age(manifest?.completedAt),
    verdict,
    ...(error ? { error } : {}),
  };
  const stored = await options.repo.reports.put(unsigned);
  const report = stored.report;
  const keys = { jsonKey: stored.jsonKey, htmlKey: stored.htmlKey };
  const entry = await recordEvidence(options.repo, {
    action: 'restore-test',
    subject: report.id,
    outcome: verdict,
    summary: `restore test ${report.id} of backup ${report.backup.id} at depth ${report.depth}: ${verdict}`,
    details: { backup: report.backup.id, depth: report.depth, checks: checks.length, failed: checks.filter((c) => !c.ok).length, rtoSeconds: report.rtoSeconds, rpoSeconds: report.rpoSeconds, backupAgeSeconds: report.backupAgeSeconds },
    refs: [{ key: stored.jsonKey, sha256: stored.sha256 }],
  });
  // The page names its evidence entry, known only now (the entry pins the stored JSON, so it
  // comes after it); the page is a rendering, neither signed nor pinned, so it may be rewritten.
  if (entry) await options.repo.reports.putPage(report, { evidenceSequence: entry.sequence });
  log.info({ report: report.id, verdict, checks: checks.length, failed: checks.filter((c) => !c.ok).length }, 'restore test finished');
  return { report, keys };
}

async function pickBackup(repo: Repository, ref: string, skipDamaged: boolean, maxUntestedDays: number, checks: Check[]): Promise<{ id: string; manifest?: BackupManifest; manifestSha256: string }> {
  let id = ref;
  if (ref === 'untested') {
    const backups = (await repo.backups.list()).flatMap((b) => (b.manifest ? [{ id: b.id, completedAt: b.manifest.completedAt, physical: b.manifest.physical ?? null }] : []));
    const health = testHealth(testRuns((await repo.evidence.verify()).entries), backups, new Date(), maxUntestedDays);
    id = nextUntested(health, new Date()) ?? 'latest';
  } else if (ref === 'random') {
    // Among every committed backup, damaged ones included: finding those is the point.
    const ids = await repo.backups.ids();
    if (ids.length === 0) throw new UsageError(`no backup in ${repo.storage.location} yet: run "dbops backup" first`);
    id = ids[randomInt(ids.length)]!;
  }
  try {
    const manifest = await repo.backups.resolve(id, { skipDamaged });
    const bytes = await repo.storage.getBuffer(backupManifestKey(manifest.id));
    checks.push({ name: 'manifest-signature', depth: 'integrity', object: backupManifestKey(manifest.id), ok: true });
    return { id: manifest.id, manifest, manifestSha256: createHash('sha256').update(bytes).digest('hex') };
  } catch (err) {
    if (!(err instanceof VerificationError)) throw err;
    const key = err.object ?? backupManifestKey(id);
    const bytes = await repo.storage.getBuffer(key).catch(() => Buffer.alloc(0));
    checks.push({ name: 'manifest-signature', depth: 'integrity', object: key, ok: false, detail: err.message });
    return { id: backupIdOfKey(key) ?? id, manifestSha256: createHash('sha256').update(bytes).digest('hex') };
  }
}

/**
 * The newest checksum set of this source at or after the backup's consistent point: the
 * furthest point, so replay of the binlog chain is tested too. Without a replayer only a
 * set taken exactly at the backup's point can be compared.
 */
async function pickChecksums(repo: Repository, manifest: BackupManifest, canReplay: boolean): Promise<StoredChecksums | undefined> {
  const sets = (await repo.checksums.list()).filter((s) => {
    if (s.source.serverUuid !== manifest.source.serverUuid) return false;
    const d = comparePoints(s.point, manifest.consistentPoint);
    return canReplay ? d >= 0 : d === 0;
  });
  sets.sort((a, b) => comparePoints(a.point, b.point));
  return sets[sets.length - 1];
}
