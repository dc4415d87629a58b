// The segment manifest `binlogs/<source>/<file>.json`: the commit marker of one shipped
// binlog file (written after its data object), signed, and self-describing enough for
// point-in-time recovery to plan a chain without downloading data: what the file
// covers (times, positions, GTIDs), where it sits in the chain, and the hashes to check.
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const SEGMENT_FORMAT = 'horizn-dbops/binlog-segment';
export const SEGMENT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const isoTime = z.string().datetime();

export const segmentManifestDoc = documentType(SEGMENT_FORMAT, SEGMENT_VERSION, 'binlog segment manifest', {
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
  /** Position after the last event (= rawBytes): `--to-position file:pos` accepts pos ≤ this. */
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
  /** How the file was known to be complete: the server's Rotate/Stop event, or the next file existing. */
  closedBy: z.enum(['rotate', 'stop', 'next-file']),
  /** The data object: raw = the binlog file's bytes, stored = the zstd+age object. */
  key: z.string(),
  rawBytes: z.number().int().nonnegative(),
  rawSha256: sha256,
  storedBytes: z.number().int().nonnegative(),
  storedSha256: sha256,
  compression: z.object({ format: z.literal('zstd'), level: z.number().int() }),
  encryption: z.object({ format: z.literal('age'), recipients: z.array(z.string()) }),
  shippedAt: isoTime,
  tools: z.record(z.string(), z.string()),
});
export type SegmentManifest = SignedDoc<typeof segmentManifestDoc>;
export type UnsignedSegmentManifest = UnsignedDoc<typeof segmentManifestDoc>;
