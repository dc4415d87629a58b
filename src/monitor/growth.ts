// Growth from the daily history: a least-squares line through data + index bytes over time
// (the samples of the last `windowDays`, plus this look), its slope as bytes per day, the size
// it reaches in `forecastDays`, and the days left until a configured disk limit. A line needs
// samples at least a day apart; until then the report says so rather than extrapolating hours.
import type { GrowthFacts } from './report-types.js';

export interface Point {
  /** ms since the epoch */
  at: number;
  bytes: number;
}

const DAY_MS = 86_400_000;
/** The history a rate is fitted to. */
export const GROWTH_WINDOW_DAYS = 30;

/** Slope in bytes per day of the least-squares line through `points`; null with fewer than two days between them. */
export function bytesPerDay(points: Point[]): number | null {
  if (points.length < 2) return null;
  const xs = points.map((p) => p.at / DAY_MS);
  if (Math.max(...xs) - Math.min(...xs) < 1) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = points.reduce((a, p) => a + p.bytes, 0) / points.length;
  let sxy = 0;
  let sxx = 0;
  points.forEach((p, i) => {
    sxy += (xs[i]! - mx) * (p.bytes - my);
    sxx += (xs[i]! - mx) ** 2;
  });
  return sxx === 0 ? null : sxy / sxx;
}

export interface GrowthInput {
  /** Total bytes over time, the current look last. */
  total: Point[];
  /** The same per table (key schema.table). */
  tables: Map<string, Point[]>;
  now: number;
  forecastDays: number;
  diskLimitBytes: number | null;
  notes?: string[];
}

export function growthFacts(g: GrowthInput): GrowthFacts {
  const from = g.now - GROWTH_WINDOW_DAYS * DAY_MS;
  const inWindow = (ps: Point[]): Point[] => ps.filter((p) => p.at >= from);
  const points = inWindow(g.total);
  const rate = bytesPerDay(points);
  const current = g.total.at(-1)?.bytes ?? 0;
  const notes = [...(g.notes ?? [])];
  if (rate === null) notes.push(`no growth rate yet: it needs samples at least a day apart (${points.length} in the last ${GROWTH_WINDOW_DAYS} days); one is kept per day in the repository`);
  let daysUntilLimit: number | null = null;
  if (g.diskLimitBytes !== null && rate !== null) {
    if (current >= g.diskLimitBytes) daysUntilLimit = 0;
    else if (rate > 0) daysUntilLimit = (g.diskLimitBytes - current) / rate;
  } else if (g.diskLimitBytes !== null && current >= g.diskLimitBytes) daysUntilLimit = 0;
  const tables = [...g.tables.entries()]
    .map(([key, ps]) => ({ key, rate: bytesPerDay(inWindow(ps)) }))
    .filter((t): t is { key: string; rate: number } => t.rate !== null && t.rate > 0)
    .sort((a, b) => b.rate - a.rate)
    .slice(0, 10)
    .map((t) => {
      const dot = t.key.indexOf('.');
      return { schema: t.key.slice(0, dot), table: t.key.slice(dot + 1), bytesPerDay: t.rate };
    });
  return {
    samples: points.length,
    firstSampleAt: points[0] ? new Date(points[0].at).toISOString() : null,
    bytesPerDay: rate,
    windowDays: GROWTH_WINDOW_DAYS,
    forecastDays: g.forecastDays,
    forecastBytes: rate === null ? null : Math.max(0, current + rate * g.forecastDays),
    diskLimitBytes: g.diskLimitBytes,
    daysUntilLimit,
    notes,
    tables,
  };
}
