// The shipper's heartbeat `binlogs/<source>/state/shipper.json`: signed, rewritten every
// few seconds whether the source is idle or busy, and never locked. RPO is measured from
// it: everything the source wrote before `caughtUpAt`, and every event up to `offsite`, is
// in the repository. `problem` says why shipping is stuck (cleared once it recovers).
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const shipperProblemSchema = z.object({
  kind: z.literal('spool-full'),
  message: z.string(),
  since: z.string(),
});
export type ShipperProblem = z.infer<typeof shipperProblemSchema>;

export const shipperStateDoc = documentType('horizn-dbops/binlog-shipper-state', 2, 'binlog shipper heartbeat', {
  serverUuid: z.string(),
  /** When this heartbeat was written. */
  writtenAt: z.string(),
  /** The last instant the source had nothing unshipped; null when not seen yet. */
  caughtUpAt: z.string().nullable(),
  /** The source's active file and position at caughtUpAt (not shipped then: it held no transaction). */
  activeFile: z.string().nullable(),
  activePosition: z.number().nullable(),
  /** The newest event known to be in the repository: the end of the newest shipped segment. */
  offsite: z.object({ file: z.string(), endPosition: z.number(), lastEventTime: z.string() }).nullable(),
  problem: shipperProblemSchema.nullable(),
  host: z.string(),
  pid: z.number(),
});
export type ShipperState = SignedDoc<typeof shipperStateDoc>;
export type UnsignedShipperState = UnsignedDoc<typeof shipperStateDoc>;
