// A gap: binlog files the repository will never have (purged on the source before they
// were shipped, or missing from the sequence). Recorded as a signed object so that PITR
// and status see it without the shipper's logs, and refuse to replay across it.
import { z } from 'zod';
import { parseSignedJson } from '../crypto/signed-json.js';
import type { KeyObject } from 'node:crypto';

export const GAP_FORMAT = 'horizn-dbops/binlog-gap';

export const gapRecordSchema = z.object({
  format: z.literal(GAP_FORMAT),
  version: z.literal(1),
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
  signature: z.object({ alg: z.literal('ed25519'), keyId: z.string(), value: z.string() }),
});
export type GapRecord = z.infer<typeof gapRecordSchema>;
export type UnsignedGapRecord = Omit<GapRecord, 'signature'>;

export function parseVerifiedGap(bytes: Buffer, key: string, publicKey: KeyObject): GapRecord {
  return parseSignedJson(bytes, key, publicKey, gapRecordSchema, 'binlog gap record');
}
