// The daemon's scheduled jobs as functions of a shutdown signal. Each returns a one-line
// summary for the log; failures throw. A shutdown abandons a backup cleanly (its parts
// are removed, no manifest is written) and tears a restore test's sandbox down.
import type { Config } from '../config/schema.js';
import type { Repository } from '../repo/repository.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { runBackup, type BackupOptions } from '../backup/run-backup.js';
import { FULL_INSTEAD } from '../backup/physical-backup.js';
import { runRestoreTest, type Depth } from '../restore-test/run-restore-test.js';
import { checkIdentityFile } from '../crypto/age.js';
import { restoreTestDependencies } from '../restore-test/sandbox-factory.js';
import { shippingWaitMs } from '../binlog/wait-shipped.js';
import { runPrune } from '../retention/prune.js';
import { retentionPolicy } from '../retention/policy.js';
import { takeChecksums } from '../checksum/take-checksums.js';
import { OperationError } from '../errors.js';
import { maintainDatabase, summarizeMaintenance } from '../partitions/index.js';
import { productionReason } from '../migrate/production.js';
import { resolveTarget } from '../migrate/target.js';
import type { JobFn } from './job-runner.js';
import { withConnection } from '../mysql/client.js';
import { collectDbReport } from '../monitor/collect.js';
import { alertRules } from '../monitor/db-alerts.js';
import type { DbReport } from '../monitor/report-types.js';

export interface JobContext {
  config: Config;
  repo: Repository;
  storageUrl: string;
  source: MysqlConn;
  recipients: string[];
  /** The monitor account (monitor.*); the source's when unset. */
  monitor?: MysqlConn;
}

/** What every scheduled backup takes from the config, of either kind. */
function backupOptions(c: JobContext, signal: AbortSignal): BackupOptions {
  return {
    repo: c.repo,
    source: c.source,
    recipients: c.recipients,
    databases: c.config.source.databases,
    compressionLevel: c.config.compression.level,
    compressionThreads: c.config.compression.threads,
    includeAccounts: c.config.backup.accounts,
    kind: c.config.backup.kind,
    ...(c.config.backup.datadir !== undefined ? { datadir: c.config.backup.datadir } : {}),
    signal,
  };
}

export function backupJob(c: JobContext): JobFn {
  return async (signal) => {
    const m = await runBackup(backupOptions(c, signal));
    return `${m.kind} backup ${m.id}: ${m.totals.rawBytes} bytes raw, ${m.totals.storedBytes} stored`;
  };
}

/**
 * A physical incremental on the newest physical backup of the source, or a full one when there
 * is nothing to apply on (the first run, or a broken chain): the manifest's warnings say which.
 */
export function incrementalJob(c: JobContext): JobFn {
  return async (signal) => {
    const m = await runBackup({ ...backupOptions(c, signal), kind: 'physical', incremental: true, fullWhenNoBase: true });
    // The copy may add warnings of its own after the reason: find the reason, not the last one.
    const what = m.physical?.parent ? `physical incremental ${m.id} on ${m.physical.parent}` : `physical backup ${m.id}, a full one (${m.warnings.find((w) => w.endsWith(FULL_INSTEAD))})`;
    return `${what}: ${m.totals.rawBytes} bytes raw, ${m.totals.storedBytes} stored`;
  };
}

/**
 * The scheduled restore test takes the backup coverage needs next (`untested`: the oldest one
 * not yet proven at content depth and still due), and at content depth takes the source's
 * checksums first, so the content it compares is as fresh as the binlogs shipped since.
 */
export function restoreTestJob(c: JobContext): JobFn {
  return async (signal) => {
    const identityFile = await checkIdentityFile(c.config.age.identityFile);
    const depth = c.config.daemon.restoreTestDepth as Depth;
    if (depth === 'content') await c.repo.checksums.save(await takeChecksums(c.source, c.config.source.databases));
    const deps = await restoreTestDependencies(c.repo, identityFile, c.config.sandbox, shippingWaitMs(c.config));
    const { report } = await runRestoreTest({
      ...deps,
      repo: c.repo,
      identityFile,
      backup: 'untested',
      maxUntestedDays: c.config.verify.maxUntestedDays,
      depth,
      parallel: c.config.restore.parallel,
      signal,
    });
    if (report.verdict !== 'pass') {
      const failed = report.checks.find((x) => !x.ok);
      throw new OperationError(`restore test ${report.id} ${report.verdict}: ${report.error ?? `${failed?.name} ${failed?.object ?? ''} ${failed?.detail ?? ''}`.trim()}`);
    }
    return `restore test ${report.id} passed (backup ${report.backup.id}, RTO ${report.rtoSeconds?.toFixed(1)} s)`;
  };
}

export function pruneJob(c: JobContext): JobFn {
  return async (signal) => {
    const r = await runPrune({ repo: c.repo, storageUrl: c.storageUrl, policy: retentionPolicy(c.config), apply: true, source: c.source, signal });
    const a = r.applied!;
    const locked = a.locked.length ? `; ${a.locked.length} item(s) still under Object Lock left for later` : '';
    const raised = a.extended.length ? `; raised the lock of ${a.extended.length} kept backup(s)` : '';
    const uncovered = r.plan.uncovered.length ? `; no backup holds ${r.plan.uncovered.map((u) => u.database).join(', ')}` : '';
    return `pruned ${a.backups.length} backup(s), ${a.segments} binlog file(s), ${a.debris.length} debris item(s)${raised}${locked}${uncovered}${r.problems.length ? `; ${r.problems.join('; ')}` : ''}`;
  };
}

export function checksumJob(c: JobContext): JobFn {
  return async () => {
    const stored = await c.repo.checksums.save(await takeChecksums(c.source, c.config.source.databases));
    return `checksums ${stored.id} at ${stored.point.binlogFile}:${stored.point.binlogPosition}`;
  };
}

/**
 * Partition maintenance and visitor-data retention of the horizn_ database (src/partitions), run
 * in-process. In production the daemon deletes only with partitions.autoApply (its standing
 * consent, where the CLI asks --confirm-production); without it the run still makes future
 * partitions and rotates salts, then fails naming what is past retention. A source without the
 * database (or not migrated) has nothing to maintain.
 */
export function partitionsJob(c: JobContext): JobFn {
  return async () => {
    const target = resolveTarget(c.config, undefined);
    const production = await productionReason(c.config, target);
    const refuseDeletions =
      production && !c.config.partitions.autoApply ? `${production} and partitions.autoApply is off (set it to let the daemon delete what is past retention)` : undefined;
    const r = await maintainDatabase({
      config: c.config,
      target,
      repo: c.repo,
      keys: async () => ({
        repo: c.repo,
        recipients: c.recipients,
        compressionLevel: c.config.compression.level,
        ...(c.config.age.identityFile ? { identityFile: await checkIdentityFile(c.config.age.identityFile) } : {}),
      }),
      apply: true,
      ...(refuseDeletions ? { refuseDeletions } : {}),
    });
    if (r.outcome?.problems.length) throw new OperationError(`partition maintenance of ${r.database}: ${r.outcome.problems.join('; ')}`);
    return summarizeMaintenance(r);
  };
}

/**
 * Database monitoring: one look at the source as the monitor account (src/monitor), handed to
 * `onReport` for /metrics and the alert rules; the look keeps the day's storage sample and moves
 * the error-log position in the repository. A section the server cannot provide is reported as
 * such, not as a failure: the job fails only when the source cannot be reached.
 */
export function monitorJob(c: JobContext, onReport: (report: DbReport) => void): JobFn {
  return async () => {
    const report = await withConnection(
      c.monitor ?? c.source,
      (db) => collectDbReport(db, { databases: c.config.source.databases, topStatements: c.config.monitor.topStatements, rules: alertRules(c.config), repo: c.repo, advanceErrorLog: true }),
      { connectTimeoutMs: 10_000 },
    );
    onReport(report);
    const missing = [report.statements, report.indexes.unused, report.storage, report.connections, report.errors].filter((x) => !x.available).length;
    return `database: ${report.storage.available ? `${report.storage.totalBytes} bytes` : 'sizes unavailable'}, ${report.alerts.length} alert rule(s) firing${missing ? `, ${missing} section(s) unavailable (see dbops db report)` : ''}`;
  };
}
