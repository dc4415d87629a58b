// A gap: binlog files the repository will never have (purged on the source before they
// were shipped, or missing from the sequence). Recorded as a signed object so that PITR
// and status see it without the shipper's logs, and refuse to replay across it.
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const GAP_FORMAT = 'horizn-dbops/binlog-gap';

export const gapRecordDoc = documentType(GAP_FORMAT, 1, 'binlog gap record', {
  repositoryId: z.string(),
  serverUuid: z.string(),
  /** First and last missing file, inclusive. */
  from: z.string(),
  to: z.string(),
  /** Last file shipped before the gap and the first file available after it. */
  after: z.string().nullable(),
  before: z.string().nullable(),
  reason: z.enum(['purged-on-source', 'missing-from-sequence']),
  detectedAt: z.string().datetime(),
});
export type GapRecord = SignedDoc<typeof gapRecordDoc>;
export type UnsignedGapRecord = UnsignedDoc<typeof gapRecordDoc>;
