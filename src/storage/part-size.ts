// Multipart part-size schedule. S3 allows at most 10,000 parts of 5 MiB–5 GiB, and a
// streamed dump's size is unknown up front, so the part size grows as the upload goes
// on: S3's smallest parts (least memory: every concurrent upload fills one) for ordinary
// dumps, big parts only for huge ones.
//
// Schedule: part n (1-based) is `initial × 2^floor((n−1)/900)`, capped at 5 GiB.
// With the default 5 MiB start:
//   parts     1–900:   5 MiB  → first   4.4 GiB
//   parts   901–1800: 10 MiB  → up to  13.2 GiB
//   parts  1801–2700: 20 MiB  → up to  30.8 GiB
//   parts  2701–3600: 40 MiB  → up to  65.9 GiB
//   …                         → 10,000 parts reach 9.8 TiB ≥ 5 TiB (S3's object limit);
//   900 rather than 1,000 parts a step, which would stop at 4.9 TiB from a 5 MiB start.
// Memory is about (queueSize + 1) × current part size: 15 MiB for dumps under 4.4 GiB
// with the default 2 parts in flight, 240 MiB at 100 GiB.
//
// A segmented upload (PutOptions.segmented: a backup's parts, which may be any size) caps
// the part at SEGMENTED_PART_CAP instead and continues in a next object once one holds
// MAX_PARTS parts (~75 GiB): its memory stays at (queueSize + 1) × 8 MiB whatever the
// stream's size, where one object of a 1 TB datadir's stream would need 320 MiB parts. 8 MiB
// rather than 16 keeps a 1 TB logical backup (several big tables filling parts at once)
// within ~50 MB of buffers; the price is requests: ~67,000 PUTs ($0.34) per 1 TB physical full.

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;
export const DEFAULT_INITIAL_PART_SIZE = 5 * 1024 * 1024;
const PARTS_PER_STEP = 900;
const MiB = 1024 * 1024;
export const SEGMENTED_PART_CAP = 8 * MiB;

/** Size of part `partNumber` (1-based) under the growing schedule above, at most `cap`. */
export function partSizeFor(partNumber: number, initial = DEFAULT_INITIAL_PART_SIZE, cap = MAX_PART_SIZE): number {
  const doublings = Math.floor((partNumber - 1) / PARTS_PER_STEP);
  return Math.min(cap, MAX_PART_SIZE, initial * 2 ** doublings);
}

/**
 * Initial part size for an upload: the configured start, raised when a size hint says
 * the object is big enough that the first 5,000 parts would not hold it.
 */
export function initialPartSize(configured = DEFAULT_INITIAL_PART_SIZE, sizeHint?: number): number {
  let size = Math.max(MIN_PART_SIZE, configured);
  if (sizeHint !== undefined && sizeHint > 0) {
    const wanted = Math.ceil(sizeHint / (MAX_PARTS / 2) / MiB) * MiB;
    size = Math.max(size, wanted);
  }
  return Math.min(MAX_PART_SIZE, size);
}

/** Total bytes the first `parts` parts hold (for tests and docs). */
export function capacityOf(parts: number, initial = DEFAULT_INITIAL_PART_SIZE, cap = MAX_PART_SIZE): number {
  let total = 0;
  for (let n = 1; n <= parts; n += 1) total += partSizeFor(n, initial, cap);
  return total;
}
