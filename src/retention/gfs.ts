// Grandfather-father-son selection: for the last N days (weeks, months) that HAVE a
// backup, keep the newest backup of each. Counting only periods with a backup means a
// week without backups does not silently shorten how far back the kept history goes.
import type { BackupFacts } from './types.js';

export type Period = 'daily' | 'weekly' | 'monthly';

/** UTC bucket of a time: 2026-03-07, 2026-W10, 2026-03. */
export function bucketOf(period: Period, iso: string): string {
  const d = new Date(iso);
  if (period === 'daily') return d.toISOString().slice(0, 10);
  if (period === 'monthly') return d.toISOString().slice(0, 7);
  // ISO week: the week belongs to the year of its Thursday.
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  thursday.setUTCDate(thursday.getUTCDate() + 4 - (thursday.getUTCDay() || 7));
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((thursday.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Where a backup stands in one period's count: newest of `bucket`, the `rank`-th of `limit`. */
export interface GfsRank {
  period: Period;
  bucket: string;
  rank: number;
  limit: number;
}

/** id → the counts that keep it, for the backups (of one source) that the counts keep. */
export function gfsRanks(backups: readonly BackupFacts[], counts: Record<Period, number>): Map<string, GfsRank[]> {
  const out = new Map<string, GfsRank[]>();
  const newestFirst = [...backups].sort((a, b) => b.completedAt.localeCompare(a.completedAt) || b.id.localeCompare(a.id));
  for (const period of ['daily', 'weekly', 'monthly'] as const) {
    const limit = counts[period];
    const seen = new Set<string>();
    for (const b of newestFirst) {
      const bucket = bucketOf(period, b.completedAt);
      if (seen.has(bucket)) continue;
      if (seen.size >= limit) break;
      seen.add(bucket);
      const ranks = out.get(b.id) ?? [];
      ranks.push({ period, bucket, rank: seen.size, limit });
      out.set(b.id, ranks);
    }
  }
  return out;
}

/** Why a count keeps a backup, for the plan. */
export function gfsReason(r: GfsRank): string {
  return `${r.period}: newest of ${r.bucket} (${r.rank} of ${r.limit})`;
}
