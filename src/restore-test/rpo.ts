// RPO at a moment, from the repository alone: that moment minus the newest event of the
// source committed offsite. That is the newest shipped binlog event or the shipper's
// "everything before this was shipped" heartbeat (the same `caughtUpTo` as `binlog
// status`), or, when no binlogs were shipped, the start of the newest backup (a
// --single-transaction snapshot opens at the start, so nothing newer is in it). The tested
// backup's age is a different number and is never used here.
import type { Repository } from '../repo/repository.js';
import type { RestoreReport } from '../report/report-schema.js';
import { shippingStatus } from '../binlog/shipping-status.js';
import { VerificationError } from '../errors.js';

export interface MeasuredRpo {
  /** The moment RPO is measured at (the report time). */
  at: Date;
  rpoSeconds: number | null;
  rpo: RestoreReport['rpo'];
}

export async function measureRpo(repo: Repository, serverUuid: string, now: () => Date): Promise<MeasuredRpo> {
  const status = await shippingStatus(repo, serverUuid, now());
  let newest: NonNullable<RestoreReport['rpo']> | null = status.caughtUpTo
    ? { newestOffsiteEvent: status.caughtUpTo, basis: status.caughtUpTo === status.newestEventTime ? 'binlog-event' : 'shipper-heartbeat' }
    : null;
  const backupStart = await newestBackupStart(repo, serverUuid);
  if (backupStart && (!newest || Date.parse(backupStart) > Date.parse(newest.newestOffsiteEvent))) newest = { newestOffsiteEvent: backupStart, basis: 'backup-start' };
  // Taken after the reads: what was read is at most as new as this moment, so the RPO is never understated.
  const at = now();
  if (!newest) return { at, rpoSeconds: null, rpo: null };
  return { at, rpoSeconds: Math.max(0, Math.round((at.getTime() - Date.parse(newest.newestOffsiteEvent)) / 100) / 10), rpo: newest };
}

/** Start of the newest backup of this source whose manifest verifies (ids sort by time: newest first, usually one read). */
async function newestBackupStart(repo: Repository, serverUuid: string): Promise<string | undefined> {
  for (const id of (await repo.backups.ids()).reverse()) {
    try {
      const m = await repo.backups.read(id);
      if (m.source.serverUuid === serverUuid) return m.startedAt;
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
    }
  }
  return undefined;
}
