// The health facts shared by /healthz, /metrics and `dbops status`: backups, shipping
// lag per source, the recoverable window and its gaps, the last restore test; and the
// judgement (healthy, or the reasons not) against the limits the schedules imply.
import type { Repository } from '../repo/repository.js';
import type { Config } from '../config/schema.js';
import { listBinlogSources } from '../binlog/repo-binlogs.js';
import { shippingStatus } from '../binlog/shipping-status.js';
import { listReports } from '../report/report-store.js';
import { collectBackupFacts, collectSegmentFacts } from '../retention/collect.js';
import { windowGaps, type WindowGap } from '../retention/pitr-keep.js';
import { formatDuration } from '../retention/plan.js';
import { parseDuration } from '../util/duration.js';
import { listBackups } from '../repo/repository.js';
import { scheduleIntervalMs } from './schedule.js';
import { pitrUnavailable } from '../manifest/point-in-time.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';

export interface StatusFacts {
  now: string;
  repositoryId: string;
  backups: {
    count: number;
    invalid: number;
    newest: { id: string; completedAt: string; ageSeconds: number; rawBytes: number; storedBytes: number; pointInTimeRecovery: boolean; pointInTimeRecoveryProblem?: string } | null;
    oldestCompletedAt: string | null;
    rawBytesTotal: number;
    storedBytesTotal: number;
  };
  sources: Array<{ serverUuid: string; files: number; storedBytes: number; newestEventTime: string | null; caughtUpTo: string | null; lagSeconds: number | null; gaps: number }>;
  /** Points from `start` to `end` can be restored (null: nothing yet); `gaps` are holes inside the PITR window. */
  window: { start: string | null; end: string | null; gaps: WindowGap[] };
  restoreTest: { id: string; createdAt: string; ageSeconds: number; verdict: string; rtoSeconds: number | null; backupId: string } | null;
}

export interface HealthLimits {
  backupStaleAfterMs: number;
  restoreTestStaleAfterMs: number;
  shippingLagLimitSeconds: number;
  pitrWindowMs: number;
  /** Binlogs are expected from the backups' source (the daemon ships them). */
  expectShipping: boolean;
}

export interface HealthReason {
  /** Stable key: the same problem keeps its key while it lasts (alert de-duplication). */
  key: string;
  message: string;
}

export function healthLimits(config: Config): HealthLimits {
  const d = (v: string | undefined, fallback: number): number => (v ? parseDuration(v) : fallback);
  return {
    backupStaleAfterMs: d(config.alerts.backupStaleAfter, 2 * scheduleIntervalMs(config.schedule.backup)),
    restoreTestStaleAfterMs: d(config.alerts.restoreTestStaleAfter, 2 * scheduleIntervalMs(config.schedule.restoreTest)),
    shippingLagLimitSeconds: config.alerts.shippingLagLimit ? parseDuration(config.alerts.shippingLagLimit) / 1000 : 3 * config.binlog.maxLagSeconds,
    pitrWindowMs: parseDuration(config.retention.pitrWindow),
    expectShipping: config.daemon.shipBinlogs,
  };
}

export async function collectStatus(repo: Repository, pitrWindowMs: number, now = new Date()): Promise<StatusFacts> {
  const listed = await listBackups(repo);
  const good = listed.filter((b) => b.manifest).map((b) => b.manifest!);
  const newest = good.at(-1);
  const sources: StatusFacts['sources'] = [];
  for (const id of await listBinlogSources(repo)) {
    const s = await shippingStatus(repo, id, now);
    sources.push({ serverUuid: id, files: s.files, storedBytes: s.storedBytes, newestEventTime: s.newestEventTime, caughtUpTo: s.caughtUpTo, lagSeconds: s.lagSeconds, gaps: s.gaps.length });
  }
  const windowStart = new Date(now.getTime() - pitrWindowMs).toISOString();
  const { backups } = await collectBackupFacts(repo);
  const { segments } = await collectSegmentFacts(repo);
  const gaps = [...new Set(backups.map((b) => b.serverUuid))].flatMap((src) => windowGaps(backups.filter((b) => b.serverUuid === src), segments.filter((s) => s.serverUuid === src), windowStart));
  const oldest = good[0];
  const caught = newest ? sources.find((s) => s.serverUuid === newest.source.serverUuid)?.caughtUpTo ?? null : null;
  const end = newest ? (caught && caught > newest.completedAt ? caught : newest.completedAt) : null;
  const reports = (await listReports(repo)).filter((r) => r.report);
  const last = reports.at(-1)?.report;
  const age = (iso: string): number => Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return {
    now: now.toISOString(),
    repositoryId: repo.config.id,
    backups: {
      count: good.length,
      invalid: listed.length - good.length,
      newest: newest ? { id: newest.id, completedAt: newest.completedAt, ageSeconds: age(newest.completedAt), rawBytes: newest.totals.rawBytes, storedBytes: newest.totals.storedBytes, ...pitrFacts(newest) } : null,
      oldestCompletedAt: oldest?.completedAt ?? null,
      rawBytesTotal: good.reduce((n, m) => n + m.totals.rawBytes, 0),
      storedBytesTotal: good.reduce((n, m) => n + m.totals.storedBytes, 0),
    },
    sources,
    window: { start: oldest?.completedAt ?? null, end, gaps },
    restoreTest: last ? { id: last.id, createdAt: last.createdAt, ageSeconds: age(last.createdAt), verdict: last.verdict, rtoSeconds: last.rtoSeconds, backupId: last.backup.id } : null,
  };
}

function pitrFacts(m: BackupManifest): { pointInTimeRecovery: boolean; pointInTimeRecoveryProblem?: string } {
  const problem = pitrUnavailable(m);
  return { pointInTimeRecovery: problem === undefined, ...(problem ? { pointInTimeRecoveryProblem: problem } : {}) };
}

/** Why the installation is not healthy; empty when it is. */
export function evaluateHealth(facts: StatusFacts, limits: HealthLimits): HealthReason[] {
  const out: HealthReason[] = [];
  const b = facts.backups.newest;
  const fmt = (seconds: number): string => formatDuration(Math.round(seconds) * 1000);
  if (!b) out.push({ key: 'backup-missing', message: 'no good backup in the repository' });
  else if (b.ageSeconds * 1000 > limits.backupStaleAfterMs) {
    out.push({ key: 'backup-stale', message: `newest good backup ${b.id} is ${fmt(b.ageSeconds)} old; its schedule allows ${formatDuration(limits.backupStaleAfterMs)}` });
  }
  for (const s of facts.sources) {
    if (s.lagSeconds !== null && s.lagSeconds > limits.shippingLagLimitSeconds) {
      out.push({ key: `shipping-lag:${s.serverUuid}`, message: `binlog shipping lag for ${s.serverUuid} is ${s.lagSeconds} s (limit ${limits.shippingLagLimitSeconds} s)` });
    }
  }
  if (limits.expectShipping && b?.pointInTimeRecoveryProblem) {
    out.push({ key: 'pitr-impossible', message: `newest backup ${b.id}: point-in-time recovery impossible: ${b.pointInTimeRecoveryProblem}` });
  }
  if (limits.expectShipping && b) {
    const src = facts.sources.find((s) => s.lagSeconds !== null);
    if (!src) out.push({ key: 'shipping-none', message: 'no binlogs have been shipped: point-in-time recovery is not possible' });
  }
  for (const g of facts.window.gaps) {
    out.push({ key: `window-gap:${g.serverUuid}:${g.from}`, message: `gap in the recoverable window: ${g.from} … ${g.to} of ${g.serverUuid} are missing (points from ${g.fromTime ?? '?'} to ${g.toTime ?? '?'} cannot be restored)` });
  }
  const t = facts.restoreTest;
  if (t && t.verdict !== 'pass') out.push({ key: 'restore-test-failed', message: `last restore test ${t.id} (backup ${t.backupId}) ended ${t.verdict}` });
  else if (t && t.ageSeconds * 1000 > limits.restoreTestStaleAfterMs) out.push({ key: 'restore-test-stale', message: `last restore test ${t.id} is ${fmt(t.ageSeconds)} old; its schedule allows ${formatDuration(limits.restoreTestStaleAfterMs)}` });
  else if (!t && facts.backups.oldestCompletedAt && Date.parse(facts.now) - Date.parse(facts.backups.oldestCompletedAt) > limits.restoreTestStaleAfterMs) {
    out.push({ key: 'restore-test-missing', message: `no restore test in ${formatDuration(limits.restoreTestStaleAfterMs)} of backups: run "dbops restore-test"` });
  }
  return out;
}
