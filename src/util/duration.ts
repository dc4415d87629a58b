// Durations as people write them in config and flags: 90s, 15m, 12h, 7d, 2w (and combos like 1d12h).
import { UsageError } from '../errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(text: string, what = 'duration'): number {
  const trimmed = text.trim();
  const re = /(\d+(?:\.\d+)?)([smhdw])/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = m.index + m[0].length;
  }
  if (!trimmed || consumed !== trimmed.length) throw new UsageError(`${what} "${text}" is not a duration: use e.g. 90s, 15m, 12h, 7d or 2w`);
  return total;
}
