// Sizes as people write them on a command line: 50MB, 1GB, 1.5G, 512MiB, 1000000. Decimal units
// (MB = 10^6) like disk vendors and the seed's own MB/s report; binary with an i (MiB = 2^20).
import { UsageError } from '../../../errors.js';

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`size "${text}" is not understood: write e.g. 50MB, 1GB or 512MiB`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes <= 0) throw new UsageError(`size "${text}" must be more than zero`);
  return bytes;
}
