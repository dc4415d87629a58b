// The shipper's heartbeat `binlogs/<source>/state/shipper.json`: signed, rewritten every
// few seconds and never locked. It says up to when everything the source wrote was
// offsite, which is what RPO is measured from when the newest segment is older.
import { z } from 'zod';
import { documentType, type SignedDoc, type UnsignedDoc } from '../repo/signed-document.js';

export const shipperStateDoc = documentType('horizn-dbops/binlog-shipper-state', 1, 'binlog shipper heartbeat', {
  serverUuid: z.string(),
  /** Everything the source wrote before this instant was in the repository. */
  caughtUpAt: z.string(),
  /** The source's active file and position then (not yet shipped: it holds no transaction). */
  activeFile: z.string(),
  activePosition: z.number(),
  host: z.string(),
  pid: z.number(),
});
export type ShipperState = SignedDoc<typeof shipperStateDoc>;
export type UnsignedShipperState = UnsignedDoc<typeof shipperStateDoc>;
