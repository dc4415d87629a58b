// The manifest of one archived partition: what was archived (database, table, partition, day range,
// row count, CREATE TABLE), the stored object's sizes and hashes, signed like backup manifests.
// Written LAST: an archive without a manifest does not exist, and nothing is dropped before it.
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { decodeDocument, documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const ARCHIVE_FORMAT = 'horizn-dbops/partition-archive';
export const ARCHIVE_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export const archiveManifestDoc = documentType(ARCHIVE_FORMAT, ARCHIVE_VERSION, 'partition archive manifest', {
  repositoryId: z.string(),
  createdAt: z.string(),
  database: z.string(),
  table: z.string(),
  partition: z.string(),
  /** Rows with from <= column < to; from is null for a first partition that also held older rows. */
  range: z.object({ column: z.string(), from: day.nullable(), to: day }),
  rows: z.number().int().nonnegative(),
  createTable: z.string(),
  source: z.object({ flavor: z.string(), version: z.string(), host: z.string() }),
  compression: z.object({ format: z.literal('zstd'), level: z.number().int() }),
  encryption: z.object({ format: z.literal('age'), recipients: z.array(z.string()) }),
  part: z.object({
    key: z.string(),
    rawBytes: z.number().int().nonnegative(),
    rawSha256: sha256,
    storedBytes: z.number().int().nonnegative(),
    storedSha256: sha256,
  }),
});
export type ArchiveManifest = SignedDoc<typeof archiveManifestDoc>;
export type UnsignedArchiveManifest = UnsignedDoc<typeof archiveManifestDoc>;

/** Parses, checks the signature against the repository key and the shape; VerificationError otherwise. */
export function parseArchiveManifest(bytes: Buffer, key: string, publicKey: KeyObject): ArchiveManifest {
  return decodeDocument(archiveManifestDoc, bytes, key, publicKey);
}
