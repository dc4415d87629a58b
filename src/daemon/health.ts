// The health facts shared by /healthz, /metrics and `dbops status`: backups, shipping
// lag per source, the recoverable window and its gaps, the evidence chain and the restore
// tests it records (test-health.ts); and the judgement (healthy, or the reasons not)
// against the limits the schedules imply.
import type { Repository } from '../repo/repository.js';
import type { Config } from '../config/schema.js';
import { shippingStatus } from '../binlog/shipping-status.js';
import type { ShipperProblem } from '../binlog/shipper-state.js';
import type { ShipperStatus } from './shipper-supervisor.js';
import { collectBackupFacts, collectSegmentFacts } from '../retention/collect.js';
import { windowGaps, type WindowGap } from '../retention/pitr-keep.js';
import { formatDuration } from '../retention/plan.js';
import { parseDuration } from '../util/duration.js';
import { scheduleIntervalMs } from './schedule.js';
import type { JobState } from './state-file.js';
import { testHealth, testRuns, type TestHealth } from './test-health.js';
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
    /** The same, per kind of backup (a physical incremental counts as physical). */
    byKind: Record<'logical' | 'physical', KindFacts>;
  };
  sources: Array<{ serverUuid: string; files: number; storedBytes: number; newestEventTime: string | null; caughtUpTo: string | null; lagSeconds: number | null; gaps: number; problem: ShipperProblem | null }>;
  /** Points from `start` to `end` can be restored (null: nothing yet); `gaps` are holes inside the PITR window. */
  window: { start: string | null; end: string | null; gaps: WindowGap[] };
  /** The newest restore test the evidence log records (any depth, any verdict). */
  restoreTest: { id: string; createdAt: string; ageSeconds: number; verdict: string; depth: string; rtoSeconds: number | null; backupId: string } | null;
  /** The newest passing restore test (any depth): what staleness is measured from. */
  lastPassAt: string | null;
  tests: TestHealth;
  /** The evidence chain: problems make the installation unhealthy (its proof is in doubt). */
  evidence: { entries: number; lastSequence: number | null; problems: string[] };
}

export interface KindFacts {
  count: number;
  /** Physical incrementals among them. */
  incremental: number;
  newest: { id: string; completedAt: string; ageSeconds: number; rawBytes: number; storedBytes: number } | null;
  rawBytesTotal: number;
  storedBytesTotal: number;
}

export interface HealthLimits {
  backupStaleAfterMs: number;
  restoreTestStaleAfterMs: number;
  shippingLagLimitSeconds: number;
  pitrWindowMs: number;
  maxUntestedDays: number;
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
    // Incrementals are backups too: when they run more often, a backup goes stale sooner.
    backupStaleAfterMs: d(config.alerts.backupStaleAfter, 2 * Math.min(...[config.schedule.backup, config.schedule.incremental].filter((s) => s !== undefined).map((s) => scheduleIntervalMs(s)))),
    restoreTestStaleAfterMs: d(config.alerts.restoreTestStaleAfter, 2 * scheduleIntervalMs(config.schedule.restoreTest)),
    shippingLagLimitSeconds: config.alerts.shippingLagLimit ? parseDuration(config.alerts.shippingLagLimit) / 1000 : 3 * config.binlog.maxLagSeconds,
    pitrWindowMs: parseDuration(config.retention.pitrWindow),
    maxUntestedDays: config.verify.maxUntestedDays,
    expectShipping: config.daemon.shipBinlogs,
  };
}

export async function collectStatus(repo: Repository, limits: Pick<HealthLimits, 'pitrWindowMs' | 'maxUntestedDays'>, now = new Date()): Promise<StatusFacts> {
  const { pitrWindowMs } = limits;
  const listed = await repo.backups.list();
  const good = listed.filter((b) => b.manifest).map((b) => b.manifest!);
  const newest = good.at(-1);
  const sources: StatusFacts['sources'] = [];
  for (const id of await repo.binlogs.sources()) {
    const s = await shippingStatus(repo, id, now);
    sources.push({ serverUuid: id, files: s.files, storedBytes: s.storedBytes, newestEventTime: s.newestEventTime, caughtUpTo: s.caughtUpTo, lagSeconds: s.lagSeconds, gaps: s.gaps.length, problem: s.shipper?.problem ?? null });
  }
  const windowStart = new Date(now.getTime() - pitrWindowMs).toISOString();
  const { backups } = await collectBackupFacts(repo);
  const { segments } = await collectSegmentFacts(repo);
  const gaps = [...new Set(backups.map((b) => b.serverUuid))].flatMap((src) => windowGaps(backups.filter((b) => b.serverUuid === src), segments.filter((s) => s.serverUuid === src), windowStart));
  const oldest = good[0];
  const caught = newest ? sources.find((s) => s.serverUuid === newest.source.serverUuid)?.caughtUpTo ?? null : null;
  const end = newest ? (caught && caught > newest.completedAt ? caught : newest.completedAt) : null;
  const chain = await repo.evidence.verify();
  const runs = testRuns(chain.entries);
  const tests = testHealth(runs, good, now, limits.maxUntestedDays);
  const last = runs.at(-1);
  const lastEntry = last ? chain.entries.find((e) => e.sequence === last.sequence) : undefined;
  const lastPass = runs.filter((r) => r.outcome === 'pass').at(-1);
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
      byKind: { logical: kindFacts(good.filter((m) => m.kind === 'logical'), age), physical: kindFacts(good.filter((m) => m.kind === 'physical'), age) },
    },
    sources,
    window: { start: oldest?.completedAt ?? null, end, gaps },
    restoreTest: last
      ? { id: last.reportId, createdAt: last.at, ageSeconds: age(last.at), verdict: last.outcome, depth: last.depth, rtoSeconds: (lastEntry?.details.rtoSeconds as number | null | undefined) ?? null, backupId: last.backupId }
      : null,
    lastPassAt: lastPass?.at ?? null,
    tests,
    evidence: { entries: chain.entries.length, lastSequence: chain.lastSequence, problems: chain.problems.map((p) => p.problem) },
  };
}

function kindFacts(of: BackupManifest[], age: (iso: string) => number): KindFacts {
  const newest = of.at(-1);
  return {
    count: of.length,
    incremental: of.filter((m) => m.physical?.parent != null).length,
    newest: newest ? { id: newest.id, completedAt: newest.completedAt, ageSeconds: age(newest.completedAt), rawBytes: newest.totals.rawBytes, storedBytes: newest.totals.storedBytes } : null,
    rawBytesTotal: of.reduce((n, m) => n + m.totals.rawBytes, 0),
    storedBytesTotal: of.reduce((n, m) => n + m.totals.storedBytes, 0),
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
    // What the shipper's heartbeat says is wrong (a full spool): the cause, before the lag shows it.
    if (s.problem) out.push({ key: `shipping-${s.problem.kind}:${s.serverUuid}`, message: `binlog shipping of ${s.serverUuid} is stuck since ${s.problem.since}: ${s.problem.message}` });
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
  for (const p of facts.evidence.problems.slice(0, 3)) out.push({ key: `evidence:${p.slice(0, 60)}`, message: `the evidence log does not verify: ${p}` });
  const f = facts.tests.openFailure;
  if (f) out.push({ key: `restore-test-failed:${f.reportId}`, message: `restore test ${f.reportId} of backup ${f.backupId} failed at depth ${f.depth}, and no passing test at that depth or deeper has followed` });
  const sincePass = facts.lastPassAt ? Date.parse(facts.now) - Date.parse(facts.lastPassAt) : null;
  if (sincePass !== null && sincePass > limits.restoreTestStaleAfterMs) {
    out.push({ key: 'restore-test-stale', message: `last passing restore test is ${fmt(sincePass / 1000)} old; its schedule allows ${formatDuration(limits.restoreTestStaleAfterMs)}` });
  } else if (sincePass === null && facts.backups.oldestCompletedAt && Date.parse(facts.now) - Date.parse(facts.backups.oldestCompletedAt) > limits.restoreTestStaleAfterMs) {
    out.push({ key: 'restore-test-missing', message: `no passing restore test in ${formatDuration(limits.restoreTestStaleAfterMs)} of backups: run "dbops restore-test"` });
  }
  const untested = facts.tests.coverage.untested;
  if (untested.length) {
    out.push({ key: 'coverage', message: `${untested.length} backup(s) not restore-tested at content depth within ${limits.maxUntestedDays} days of completing: ${untested.slice(0, 5).join(', ')}${untested.length > 5 ? ', …' : ''} (dbops restore-test --backup ID --depth content)` });
  }
  return out;
}

/** A job whose last finished run failed keeps the installation unhealthy until a run succeeds:
 *  a failing partitions job means data outliving its retention and inserts heading for pmax. */
export function jobReasons(jobs: Record<string, JobState>): HealthReason[] {
  return Object.entries(jobs)
    .filter(([, s]) => s.outcome === 'failed')
    .map(([name, s]) => ({ key: `job:${name}`, message: `${name} failed${s.lastEnd ? ` at ${s.lastEnd}` : ''}: ${s.error ?? 'no error recorded'}` }));
}

/** The daemon's own shipper keeps failing (e.g. another writer holds the repository's lease). */
export function shipperReasons(status: ShipperStatus | null): HealthReason[] {
  if (!status?.failing || !status.lastError) return [];
  return [{ key: 'shipper-failing', message: `the binlog shipper of this daemon keeps failing (${status.restarts} restarts): ${status.lastError}` }];
}
