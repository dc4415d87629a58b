// Restore-test health from the evidence chain, not from whichever report is newest: the
// newest test per depth, the newest failure that no pass at the same or a deeper depth has
// followed since (an integrity PASS after a content FAIL does not clear it), and coverage:
// every backup restore-tested at content depth within verify.maxUntestedDays of completing.
// A test of a physical incremental restores its whole chain (the full and every incremental
// up to it, each fetched, checked, extracted and applied), so it counts for each of them:
// otherwise hourly incrementals could never all be tested by a daily restore test.
// Only `fail` is a failure; `error` and `interrupted` say a test did not run to a verdict.
import type { EvidenceEntry } from '../repo/evidence-log.js';
import { byRestoredBackup, restoredWith, type ChainLink } from '../physical/chain.js';

export const DEPTHS = ['integrity', 'restore', 'content'] as const;
export type Depth = (typeof DEPTHS)[number];

export interface TestRun {
  sequence: number;
  reportId: string;
  at: string;
  depth: Depth;
  backupId: string;
  outcome: EvidenceEntry['outcome'];
}

export interface TestHealth {
  newestByDepth: Partial<Record<Depth, TestRun>>;
  /** The newest `fail` not yet followed by a `pass` at the same or a deeper depth. */
  openFailure: TestRun | null;
  coverage: {
    maxUntestedDays: number;
    /** Per backup: its newest content-depth pass, if any. */
    backups: Array<{ backupId: string; completedAt: string; parent: string | null; newestContentPass: TestRun | null; newestTest: TestRun | null; due: string; overdue: boolean }>;
    /** Backups past their due date without a content-depth pass. */
    untested: string[];
  };
}

const DAY_MS = 86_400_000;

/** Restore-test runs recorded in the chain, oldest first. */
export function testRuns(entries: readonly EvidenceEntry[]): TestRun[] {
  const runs: TestRun[] = [];
  for (const e of entries) {
    if (e.action !== 'restore-test' || !e.subject) continue;
    const depth = e.details.depth as Depth | undefined;
    const backupId = e.details.backup as string | undefined;
    if (!depth || !DEPTHS.includes(depth) || !backupId) continue;
    runs.push({ sequence: e.sequence, reportId: e.subject, at: e.at, depth, backupId, outcome: e.outcome });
  }
  return runs;
}

/** A backup as coverage needs it. */
export interface CoveredBackup extends ChainLink {
  completedAt: string;
}

export function testHealth(runs: readonly TestRun[], backups: readonly CoveredBackup[], now: Date, maxUntestedDays: number): TestHealth {
  const newestByDepth: TestHealth['newestByDepth'] = {};
  for (const r of runs) newestByDepth[r.depth] = r;
  let openFailure: TestRun | null = null;
  for (const r of runs) {
    if (r.outcome === 'fail') openFailure = r;
    else if (r.outcome === 'pass' && openFailure && DEPTHS.indexOf(r.depth) >= DEPTHS.indexOf(openFailure.depth)) openFailure = null;
  }
  const runsOf = byRestoredBackup(runs, (r) => r.backupId, backups);
  const rows = backups.map((b) => {
    const own = runsOf.get(b.id) ?? [];
    const pass = own.filter((r) => r.depth === 'content' && r.outcome === 'pass').at(-1) ?? null;
    const due = new Date(Date.parse(b.completedAt) + maxUntestedDays * DAY_MS);
    return { backupId: b.id, completedAt: b.completedAt, parent: b.physical?.parent ?? null, newestContentPass: pass, newestTest: own.at(-1) ?? null, due: due.toISOString(), overdue: !pass && due.getTime() < now.getTime() };
  });
  return { newestByDepth, openFailure, coverage: { maxUntestedDays, backups: rows, untested: rows.filter((r) => r.overdue).map((r) => r.backupId) } };
}

/**
 * The backup a scheduled test should take next: the oldest one still due (no content pass,
 * not overdue yet), else the oldest overdue one, else the newest backup; of a physical chain,
 * its newest member that restores that one, which covers the rest on the way.
 */
export function nextUntested(health: TestHealth, now: Date): string | undefined {
  const open = health.coverage.backups.filter((b) => !b.newestContentPass);
  const due = open.filter((b) => Date.parse(b.due) >= now.getTime());
  const pick = (due[0] ?? open[0] ?? health.coverage.backups.at(-1))?.backupId;
  if (pick === undefined) return undefined;
  const restores = restoredWith(health.coverage.backups.map((b) => ({ id: b.backupId, physical: { parent: b.parent } })));
  return health.coverage.backups.filter((b) => restores(b.backupId).includes(pick)).at(-1)?.backupId ?? pick;
}
