// How long the retention rules are sure to keep a backup they keep today: a lower bound,
// never a guess, because prune hands it to S3 Object Lock as retain-until (see
// storage/object-lock.ts) and a lock that outlived the rules would block prune itself.
//
//  * GFS: a count keeps the NEWEST backup of a period, so while the backup's period is
//    still running a newer backup can take its place at any moment: no bound. Once its
//    period has ended, a backup that is the rank-th newest of limit periods (days, ISO
//    weeks, months, UTC) drops out only when limit − rank + 1 newer periods have a backup.
//    A new period can only be the current one (if it has no backup yet) or a later one, so
//    the earliest that can happen is the start of the (limit − rank + 1)-th period from
//    now on that has no backup yet. (Prune runs daily: the day after a period ends, its
//    last backup, still under its upload lock, gets this date.)
//  * PITR: a full with a binlog position is kept (as the window's anchor, or as the first
//    full after a gap) until the next full with a binlog position has fallen out of the
//    window: that full's completion + the window, or — when there is none yet — now + the
//    window, since the next one cannot complete before now. A full without a binlog
//    position is kept while it is inside the window: its completion + the window.
//  * The newest good backup is kept only until a newer one exists (possibly now): no bound.
//  * Legal hold has no end: an S3 legal hold, not a date.
import { bucketOf, type GfsRank, type Period } from './gfs.js';
import type { BackupFacts } from './types.js';

/** Start (UTC) of the period that contains `t`: the day, the ISO week (Monday) or the month. */
export function periodStart(period: Period, t: Date): Date {
  const day = Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate());
  if (period === 'daily') return new Date(day);
  if (period === 'monthly') return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
  const sinceMonday = (t.getUTCDay() + 6) % 7;
  return new Date(day - sinceMonday * 86_400_000);
}

/** Start of the period after the one that starts at `start`. */
export function nextPeriod(period: Period, start: Date): Date {
  if (period === 'daily') return new Date(start.getTime() + 86_400_000);
  if (period === 'weekly') return new Date(start.getTime() + 7 * 86_400_000);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

/**
 * Earliest time a backup (completed at `completedAt`) at `rank` of `limit` in `period` can
 * fall out of its count, given the periods that already have a backup (`buckets`, bucketOf
 * form); undefined while its period is still running.
 */
export function gfsKeepUntil(r: Pick<GfsRank, 'period' | 'rank' | 'limit'>, completedAt: string, buckets: ReadonlySet<string>, now: Date): Date | undefined {
  if (periodStart(r.period, new Date(completedAt)).getTime() >= periodStart(r.period, now).getTime()) return undefined;
  let needed = r.limit - r.rank + 1;
  let t = periodStart(r.period, now);
  // Bounded: each step either counts a free period or skips one of the existing buckets.
  const steps = needed + buckets.size;
  for (let i = 0; i < steps; i++) {
    if (!buckets.has(bucketOf(r.period, t.toISOString()))) {
      needed -= 1;
      if (needed === 0) return t;
    }
    t = nextPeriod(r.period, t);
  }
  return t;
}

/** Earliest time the PITR rule can let go of `b`, one of `backups` (one source) that the window needs now. */
export function pitrKeepUntil(b: BackupFacts, backups: readonly BackupFacts[], now: Date, windowMs: number): Date {
  if (!b.cpFile) return new Date(Date.parse(b.completedAt) + windowMs);
  const later = backups.filter((x) => x.cpFile && (x.completedAt > b.completedAt || (x.completedAt === b.completedAt && x.id > b.id)));
  const next = later.sort((x, y) => x.completedAt.localeCompare(y.completedAt) || x.id.localeCompare(y.id))[0];
  return new Date((next ? Date.parse(next.completedAt) : now.getTime()) + windowMs);
}
