// A gap: binlog files the repository will never have (purged on the source before they
// were shipped, or missing from the sequence). Recorded as a signed object so that PITR
// and status see it without the shipper's logs, and refuse to replay across it.
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { verifyDocument } from '../crypto/signing.js';
import { VerificationError } from '../errors.js';

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
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new VerificationError(`${key} is not valid JSON: the gap record is damaged`, key);
  }
  verifyDocument(json, publicKey, key);
  const parsed = gapRecordSchema.safeParse(json);
  if (!parsed.success) throw new VerificationError(`${key} is not a binlog gap record: ${parsed.error.issues[0]?.message}`, key);
  return parsed.data;
}
