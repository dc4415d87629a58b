// Carries out a retention plan. Commit markers go first (a backup's manifest, a
// segment's manifest), then the data, so an interrupted prune leaves debris that the
// next prune removes, never a manifest pointing at missing data.
import type { Repository } from '../repo/repository.js';
import { backupManifestKey, backupPrefix } from '../storage/layout.js';
import { segmentDataKey, segmentManifestKey } from '../binlog/source-keys.js';
import { log } from '../util/logger.js';
import { abortIncompleteUpload } from './incomplete-uploads.js';
import type { RetentionPlan } from './types.js';

export interface ApplyResult {
  backups: string[];
  segments: number;
  gapRecords: number;
  debris: string[];
  /** Things that could not be removed (e.g. an abort the store refuses); the rest went ahead. */
  problems: string[];
}

async function removePrefix(repo: Repository, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const obj of repo.storage.list(prefix)) keys.push(obj.key);
  for (const key of keys) await repo.storage.remove(key);
}

export async function applyPlan(repo: Repository, plan: RetentionPlan, storageUrl: string): Promise<ApplyResult> {
  const result: ApplyResult = { backups: [], segments: 0, gapRecords: 0, debris: [], problems: [] };
  for (const b of plan.backups) {
    if (b.action !== 'delete') continue;
    await repo.storage.remove(backupManifestKey(b.id));
    await removePrefix(repo, backupPrefix(b.id));
    result.backups.push(b.id);
    log.info({ backupId: b.id, reason: b.reasons[0] }, 'pruned backup');
  }
  for (const source of plan.sources) {
    for (const s of source.deleted) {
      await repo.storage.remove(segmentManifestKey(s.serverUuid, s.file));
      await repo.storage.remove(segmentDataKey(s.serverUuid, s.file));
      result.segments++;
    }
    for (const g of source.deletedGapRecords) {
      await repo.storage.remove(g.key);
      result.gapRecords++;
    }
    if (source.deleted.length) log.info({ serverUuid: source.serverUuid, segments: source.deleted.length, keepFrom: source.keepFrom }, 'pruned binlog segments');
  }
  for (const d of plan.debris) {
    if (d.action !== 'delete') continue;
    if (d.kind === 'incomplete-upload') {
      const problem = await abortIncompleteUpload(storageUrl, d.name, d.uploadId!);
      if (problem) {
        result.problems.push(problem);
        log.warn({ key: d.name }, problem);
        continue;
      }
    } else if (d.kind === 'incomplete-backup' && (await repo.storage.stat(backupManifestKey(d.name)))) {
      // It committed after the plan was made (a very long backup): it is a backup now.
      continue;
    } else {
      for (const key of d.keys) await repo.storage.remove(key);
    }
    result.debris.push(d.name);
    log.info({ kind: d.kind, name: d.name }, 'removed debris');
  }
  return result;
}
