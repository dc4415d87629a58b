// `dbops prune` as a library call (the CLI and the daemon share it): collect the facts,
// plan with the pure planner, and apply only when asked. With a source, its databases
// that no backup holds are named too.
import type { Repository } from '../repo/repository.js';
import { collectFacts } from './collect.js';
import { planRetention } from './plan.js';
import { applyPlan, type ApplyResult } from './apply-plan.js';
import { recordEvidence, withEvidence } from '../repo/evidence-log.js';
import { backupManifestKey } from '../storage/layout.js';
import { readSourceDatabases } from './source-databases.js';
import { log } from '../util/logger.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import type { RetentionPlan, RetentionPolicy } from './types.js';

export interface PruneOptions {
  repo: Repository;
  /** The repository's storage URL (S3 unfinished uploads are found through it). */
  storageUrl: string;
  policy: RetentionPolicy;
  apply: boolean;
  /** The configured source, if any: read only to list its databases. */
  source?: MysqlConn;
  /** Stops --apply between items (the item under way is finished). */
  signal?: AbortSignal;
  now?: Date;
}

export interface PruneResult {
  plan: RetentionPlan;
  applied: ApplyResult | null;
  /** Things prune could not look at or remove. */
  problems: string[];
}

export async function runPrune(options: PruneOptions): Promise<PruneResult> {
  const facts = await collectFacts(options.repo, options.storageUrl);
  const live = options.source ? await readSourceDatabases(options.source) : { source: null, problem: null };
  const plan = planRetention({ ...facts, sourceDatabases: live.source ? [live.source] : [], now: options.now ?? new Date(), policy: options.policy });
  for (const u of plan.uncovered) log.warn({ serverUuid: u.serverUuid, database: u.database }, `database ${u.database} has no backup: nothing can restore it`);
  const deleting = plan.backups.filter((b) => b.action === 'delete').map((b) => b.id);
  // The plan goes on record before anything is deleted: the evidence entries that pin these
  // manifests stay verifiable even when this prune is killed half way.
  if (options.apply && deleting.length) {
    await recordEvidence(options.repo, {
      action: 'prune',
      outcome: 'ok',
      summary: `prune is about to delete ${deleting.length} backup(s): ${deleting.join(', ')}`,
      details: { phase: 'planned', backups: deleting, retired: deleting.map(backupManifestKey) },
    });
  }
  const applied = options.apply
    ? await withEvidence(options.repo, { action: 'prune' }, () => applyPlan(options.repo, plan, options.storageUrl, options.signal), (a) => ({
        outcome: 'ok',
        summary: `prune deleted ${a.backups.length} backup(s), ${a.segments} binlog file(s), ${a.debris.length} debris item(s)`,
        details: { phase: 'applied', backups: a.backups, segmentsBySource: a.segmentsBySource, gapRecords: a.gapRecords, debris: a.debris, locked: a.locked.length, problems: a.problems },
      }))
    : null;
  return { plan, applied, problems: [...facts.problems, ...(live.problem ? [live.problem] : []), ...(applied?.problems ?? [])] };
}
