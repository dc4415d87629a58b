// The restore-test report: versioned JSON that says what was restored, to which point,
// how long each phase took, every check with expected and actual values, and the
// verdict — signed, so an auditor can check it offline with only the public key.
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const REPORT_FORMAT = 'horizn-dbops/restore-report';
export const REPORT_VERSION = 1;

export const checkSchema = z.object({
  /** Stable name, e.g. `part-hash`, `row-count` (against the manifest), `part-row-count` (against
   *  the rows the restore counted in a part whose count the manifest lacks), `content-checksum`, `schema-objects`. */
  name: z.string(),
  /** Depth the check belongs to. */
  depth: z.enum(['integrity', 'restore', 'content']),
  /** The object checked (part key, `db.table`, …). */
  object: z.string().optional(),
  expected: z.unknown().optional(),
  actual: z.unknown().optional(),
  ok: z.boolean(),
  /** Why it failed, in one line. */
  detail: z.string().optional(),
});
export type Check = z.infer<typeof checkSchema>;

export const reportDoc = documentType(REPORT_FORMAT, REPORT_VERSION, 'restore report', {
  id: z.string(),
  createdAt: z.string(),
  tool: z.object({ name: z.literal('horizn-dbops'), version: z.string() }),
  repositoryId: z.string(),
  source: z.object({ flavor: z.string(), version: z.string(), serverUuid: z.string() }),
  backup: z.object({
    id: z.string(),
    /** sha256 of the manifest bytes as stored: pins exactly which manifest was tested. */
    manifestSha256: z.string(),
    completedAt: z.string(),
    consistentPoint: z.object({ binlogFile: z.string().nullable(), binlogPosition: z.number().nullable(), gtidSet: z.string().nullable() }),
    selection: z.string(),
  }),
  target: z.object({
    requested: z.string(),
    reached: z
      .object({ binlogFile: z.string().nullable(), binlogPosition: z.number().nullable(), gtidSet: z.string().nullable(), time: z.string().nullable() })
      .nullable(),
  }),
  sandbox: z.object({ driver: z.string(), engine: z.string().nullable(), image: z.string().nullable(), imageId: z.string().nullable(), serverVersion: z.string().nullable() }),
  depth: z.enum(['integrity', 'restore', 'content']),
  checks: z.array(checkSchema),
  /** Wall seconds per phase; RTO is the sum of the phases a real restore needs. */
  phases: z.record(z.string(), z.number()),
  rtoSeconds: z.number().nullable(),
  /** Data-loss window at test time: seconds between the newest recoverable event and the test. */
  rpoSeconds: z.number().nullable(),
  verdict: z.enum(['pass', 'fail', 'error']),
  error: z.string().optional(),
});
export type RestoreReport = SignedDoc<typeof reportDoc>;
export type UnsignedReport = UnsignedDoc<typeof reportDoc>;
