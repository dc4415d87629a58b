// The restore-test report: versioned JSON that says what was restored, to which point,
// how long each phase took, every check with expected and actual values, the RTO and RPO
// as defined below, and the verdict — signed, so an auditor can check it offline with only
// the public key. Format 2 changed what `rpoSeconds` means (format 1 put the backup's age
// there), so readers take both and show a format-1 number as the backup age it was.
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { checkShape, documentType, parseJson, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';
import { verifyDocument } from '../crypto/signing.js';

export const REPORT_FORMAT = 'horizn-dbops/restore-report';
export const REPORT_VERSION = 2;

/** The words an auditor reads next to the numbers: the JSON schema, the HTML and the README say the same. */
export const DEFINITIONS = {
  rto: 'RTO: wall time from the start of a restore to data usable: fetching, checking, decrypting, decompressing and loading the backup, then replaying binlogs to the target point (the phases listed in rtoPhases). The integrity pre-check, the sandbox start and the checks after the load are test steps, not part of it.',
  rpo: 'RPO at report time: the report time (finishedAt) minus the newest event committed offsite for the source: the last event of the newest shipped binlog segment, the shipper heartbeat saying everything before it was shipped, or, without shipped binlogs, the start of the newest backup. What a loss of the source at that moment would lose.',
  backupAge: "Backup age: the report time minus the tested backup's completion. Reported apart; it is not the RPO.",
} as const;

export const VERDICTS = ['pass', 'fail', 'error', 'interrupted'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** What each verdict means and its exit code. */
export const VERDICT_MEANING: Record<Verdict, string> = {
  pass: 'every check passed (exit 0)',
  fail: 'a check failed: the backup or its restore is not what it should be (exit 3)',
  error: 'the test could not run to the end, so it proves nothing either way (exit 1)',
  interrupted: 'stopped by a signal (SIGTERM/SIGINT) before it finished; proves nothing either way (exit 130)',
};

const depth = z.enum(['integrity', 'restore', 'content']);

export const checkSchema = z.object({
  /** Stable name, e.g. `part-hash`, `row-count` (against the manifest), `part-row-count` (against
   *  the rows the restore counted in a part whose count the manifest lacks), `content-checksum`, `schema-objects`. */
  name: z.string(),
  /** Depth the check belongs to. */
  depth,
  /** The object checked (part key, `db.table`, …). */
  object: z.string().optional(),
  expected: z.unknown().optional(),
  actual: z.unknown().optional(),
  ok: z.boolean(),
  /** Why it failed, in one line. */
  detail: z.string().optional(),
});
export type Check = z.infer<typeof checkSchema>;

const point = z.object({ binlogFile: z.string().nullable(), binlogPosition: z.number().nullable(), gtidSet: z.string().nullable() });

const common = {
  id: z.string(),
  /** When the test started. */
  createdAt: z.string(),
  tool: z.object({ name: z.literal('horizn-dbops'), version: z.string() }),
  repositoryId: z.string(),
  source: z.object({ flavor: z.string(), version: z.string(), serverUuid: z.string() }),
  backup: z.object({
    id: z.string(),
    /** sha256 of the manifest bytes as stored: pins exactly which manifest was tested. */
    manifestSha256: z.string(),
    completedAt: z.string(),
    consistentPoint: point,
    selection: z.string(),
  }),
  target: z.object({
    requested: z.string(),
    reached: point.extend({ time: z.string().nullable() }).nullable(),
  }),
  sandbox: z.object({ driver: z.string(), engine: z.string().nullable(), image: z.string().nullable(), imageId: z.string().nullable(), serverVersion: z.string().nullable() }),
  depth,
  checks: z.array(checkSchema),
  /** Wall seconds per phase, in the order they ran. */
  phases: z.record(z.string(), z.number()),
  rtoSeconds: z.number().nullable(),
  error: z.string().optional(),
};

export const reportDoc = documentType(REPORT_FORMAT, REPORT_VERSION, 'restore report', {
  ...common,
  /** When the report was written: the moment RPO and backup age are taken at. */
  finishedAt: z.string().describe('When the report was written: the moment rpoSeconds and backupAgeSeconds are measured at.'),
  rtoSeconds: z.number().nullable().describe(DEFINITIONS.rto),
  /** The phases summed into rtoSeconds. */
  rtoPhases: z.array(z.string()).describe('The phases summed into rtoSeconds (fetch, decrypt, decompress and load are one pipelined "restore" phase; binlog replay is "replay").'),
  rpoSeconds: z.number().nullable().describe(DEFINITIONS.rpo),
  /** What the RPO was measured from; null when no source is known (manifest rejected). */
  rpo: z
    .object({
      newestOffsiteEvent: z.string(),
      basis: z.enum(['binlog-event', 'shipper-heartbeat', 'backup-start']),
    })
    .nullable()
    .describe('The newest event committed offsite that rpoSeconds is measured from, and where it was read.'),
  backupAgeSeconds: z.number().nullable().describe(DEFINITIONS.backupAge),
  verdict: z.enum(VERDICTS).describe(Object.entries(VERDICT_MEANING).map(([v, m]) => `${v}: ${m}`).join('; ')),
});

/** Format 1, as written before: `rpoSeconds` held the backup's age at test time. */
export const reportDocV1 = documentType(REPORT_FORMAT, 1, 'restore report', {
  ...common,
  rpoSeconds: z.number().nullable(),
  verdict: z.enum(['pass', 'fail', 'error']),
});

/** A verified report of either format, in format 2's shape (`version` says which was stored). */
export type RestoreReport = SignedDoc<typeof reportDoc>;
export type UnsignedReport = UnsignedDoc<typeof reportDoc>;

/** A format-1 report in format 2's shape: its "RPO" was the backup's age, and no RPO was measured. */
function fromV1(r: SignedDoc<typeof reportDocV1>): RestoreReport {
  const { rpoSeconds, ...rest } = r;
  return {
    ...rest,
    finishedAt: r.createdAt,
    rtoPhases: ['restore', 'replay'].filter((p) => p in r.phases),
    rpoSeconds: null,
    rpo: null,
    backupAgeSeconds: rpoSeconds,
  };
}

/** Parse and verify a report of either format: VerificationError (exit 3) on any alteration. */
export function decodeReport(bytes: Buffer, publicKey: KeyObject, what: string): RestoreReport {
  const json = parseJson(bytes, what, reportDoc.what);
  verifyDocument(json, publicKey, what);
  if ((json as { version?: unknown }).version === 1) return fromV1(checkShape(reportDocV1, json, what));
  return checkShape(reportDoc, json, what);
}
