// Retention periods as written in config (`retention.pageviews: 400d`) and the plan they imply:
// which daily partitions hold only rows older than the period.
import { UsageError } from '../errors.js';

/** '400d' → 400. Only days: partitions are daily, so finer units would suggest precision we lack. */
export function parseRetentionDays(text: string, key: string): number {
  const m = /^(\d+)d$/.exec(text.trim());
  if (!m || Number(m[1]) < 1) throw new UsageError(`${key} "${text}" is not a retention period: write a number of days like 400d`);
  return Number(m[1]);
}
