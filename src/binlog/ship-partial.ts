// Ships the growth of the binlog file the source is still writing, as one partial segment:
// the spool copy's bytes [from, to), where `to` is a transaction boundary (committedPosition
// of the scan), through the same pipeline as whole files (raw → zstd → age → storage), then
// its signed manifest chained to the part before. The running sha256 of [0, to) goes into
// the manifest, so the parts concatenated, and later the whole file's prefix, can be
// checked against it.
import type { Hash } from 'node:crypto';
import type { Repository } from '../repo/repository.js';
import { OperationError } from '../errors.js';
import { documentHash } from '../repo/signed-document.js';
import { partialDataKey } from '../storage/layout.js';
import type { BinlogScan } from './event-scan.js';
import type { PartialSegmentManifest } from './segment-manifest.js';
import { segmentDescription, uploadSpoolRange, type ShipFileOptions } from './ship-file.js';

export interface PartialShipment {
  path: string;
  file: string;
  /** The scan of the spool copy up to `to` (the prefix the manifest describes). */
  scan: BinlogScan;
  from: number;
  to: number;
  previous: PartialSegmentManifest | null;
  /** sha256 state of the file's bytes [0, from); advanced to [0, to) here. */
  prefix: Hash;
  previousFile: string | null;
}

export async function shipPartial(o: ShipFileOptions & { repo: Repository }, p: PartialShipment): Promise<PartialSegmentManifest> {
  const { scan } = p;
  if (!scan.firstEventTime || !scan.lastEventTime || p.to <= p.from) throw new OperationError(`nothing to ship as a partial segment of ${p.file} (${p.from}–${p.to})`);
  const part = (p.previous?.partial.part ?? 0) + 1;
  const key = partialDataKey(o.sourceId, p.file, part);
  o.assertWriter?.();
  const object = await uploadSpoolRange(o, key, p.path, { start: p.from, end: p.to }, { sizeHint: p.to - p.from, unlocked: true, onChunk: (chunk) => p.prefix.update(chunk) });
  if (object.raw.bytes !== p.to - p.from) throw new OperationError(`spool file ${p.path} is shorter than it was scanned (${p.to - p.from} bytes expected from ${p.from}, ${object.raw.bytes} read)`);
  o.assertWriter?.();
  return o.repo.binlogs.commitPartial({
    ...segmentDescription(o, p.file, scan, key, object),
    previousFile: p.previousFile,
    startPosition: 4,
    endPosition: p.to,
    partial: { part, from: p.from, previous: p.previous ? documentHash(p.previous) : null, prefixSha256: p.prefix.copy().digest('hex') },
  });
}
