// The segment manifest: the commit marker of shipped binlog bytes (written after their data
// object), signed, and self-describing enough for point-in-time recovery to plan a chain
// without downloading data: what the bytes cover (times, positions, GTIDs), where they sit
// in the chain, and the hashes to check.
//   version 1 `binlogs/<source>/<file>.json`: one whole, closed binlog file (what the shipper
//             still writes for closed files, so older readers keep reading them);
//   version 2 `binlogs/<source>/partial/<file>/<part>.json`: one part of the file the source
//             is still writing: bytes [partial.from, endPosition) of it, hash-chained to the
//             part before (partial.previous) and carrying the sha256 of the whole prefix
//             [0, endPosition), which the whole file, once shipped, must share. Times, GTIDs,
//             counts and content describe that prefix, so the newest part describes the
//             shipped file so far. Readers accept both.
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const SEGMENT_FORMAT = 'horizn-dbops/binlog-segment';
export const SEGMENT_VERSION = 1;
export const PARTIAL_SEGMENT_VERSION = 2;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const isoTime = z.string().datetime();

/** Fields of both versions. */
const common = {
  repositoryId: z.string(),
  /** Source id (MySQL server_uuid, MariaDB `mariadb-<server_id>-<hash>`): the directory name. */
  serverUuid: z.string(),
  flavor: z.enum(['mysql', 'mariadb']),
  /** server_id that wrote the file (from its format description event). */
  originServerId: z.number().int().nullable(),
  /** Binlog file name on the source, e.g. `binlog.000042`. */
  file: z.string(),
  /** Numeric part of the name; the chain is ordered by it. */
  sequence: z.number().int().nonnegative(),
  /** The file shipped just before this one (null for the first); ≠ sequence−1 means a gap. */
  previousFile: z.string().nullable(),
  /** Position of the first event (always 4: after the magic number). */
  startPosition: z.number().int().nonnegative(),
  /** Position after the last event (= rawBytes of a whole file): `--to-position file:pos` accepts pos ≤ this. */
  endPosition: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  /** GTID events in the file: one per transaction. */
  transactions: z.number().int().nonnegative(),
  /** Event times (UTC, second precision, as the server stamped them). */
  firstEventTime: isoTime,
  /** For a rotated file this is the rotation time: nothing happened on the source between the last transaction and it. */
  lastEventTime: isoTime,
  firstTransactionTime: isoTime.nullable(),
  lastTransactionTime: isoTime.nullable(),
  gtid: z.object({
    /** MariaDB: the GTID list event (binlog state before this file). MySQL: Previous_gtids. */
    atStart: z.string().nullable(),
    first: z.string().nullable(),
    last: z.string().nullable(),
    /** MariaDB: binlog state after this file (per domain). MySQL: null. */
    atEnd: z.string().nullable(),
  }),
  /** Which tables the row events touch how, and how many other statements there are (absent in segments shipped before it existed). */
  content: z
    .object({
      tables: z.record(z.string(), z.object({ insert: z.number().int(), update: z.number().int(), delete: z.number().int() })),
      statements: z.number().int().nonnegative(),
      unmappedRowEvents: z.number().int().nonnegative(),
    })
    .optional(),
  /** The data object: raw = the binlog bytes it holds, stored = the zstd+age object. */
  key: z.string(),
  rawBytes: z.number().int().nonnegative(),
  rawSha256: sha256,
  storedBytes: z.number().int().nonnegative(),
  storedSha256: sha256,
  compression: z.object({ format: z.literal('zstd'), level: z.number().int() }),
  encryption: z.object({ format: z.literal('age'), recipients: z.array(z.string()) }),
  shippedAt: isoTime,
  tools: z.record(z.string(), z.string()),
};

export const segmentManifestDoc = documentType(SEGMENT_FORMAT, SEGMENT_VERSION, 'binlog segment manifest', {
  ...common,
  /** How the file was known to be complete: the server's Rotate/Stop event, or the next file existing. */
  closedBy: z.enum(['rotate', 'stop', 'next-file']),
});
export type SegmentManifest = SignedDoc<typeof segmentManifestDoc>;
export type UnsignedSegmentManifest = UnsignedDoc<typeof segmentManifestDoc>;

export const partialSegmentDoc = documentType(SEGMENT_FORMAT, PARTIAL_SEGMENT_VERSION, 'partial binlog segment manifest', {
  ...common,
  partial: z.object({
    /** 1, 2, …: part n holds the bytes right after part n−1's. */
    part: z.number().int().min(1),
    /** Offset of this part's first byte in the file (0 for part 1, which holds the magic number). */
    from: z.number().int().nonnegative(),
    /** documentHash of part n−1's signed manifest; null for part 1. */
    previous: sha256.nullable(),
    /** sha256 of the file's bytes [0, endPosition): parts 1…n concatenated. */
    prefixSha256: sha256,
  }),
});
export type PartialSegmentManifest = SignedDoc<typeof partialSegmentDoc>;
export type UnsignedPartialSegmentManifest = UnsignedDoc<typeof partialSegmentDoc>;

/**
 * One file of a chain as recovery reads it: a whole shipped file, or — for the file the
 * source was still writing — the prefix its partial segments hold, described by the newest
 * part, with every part in order (`parts`). A prefix ends on a transaction boundary, can only
 * be the last file of a chain, and has no single data object (`key` is its last part's).
 */
export type ChainSegment = SegmentManifest | ShippedPrefix;
export type ShippedPrefix = Omit<PartialSegmentManifest, 'partial'> & { parts: PartialSegmentManifest[] };

export function isPrefix(s: ChainSegment): s is ShippedPrefix {
  return 'parts' in s;
}
