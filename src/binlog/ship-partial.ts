// Ships the growth of the binlog file the source is still writing, as one partial segment:
// the spool copy's bytes [from, to), where `to` is a transaction boundary (committedPosition
// of the scan), through the same pipeline as whole files (raw → zstd → age → storage), then
// its signed manifest chained to the part before. The running sha256 of [0, to) goes into
// the manifest, so the parts concatenated, and later the whole file's prefix, can be
// checked against it.
import { createReadStream } from 'node:fs';
import type { Hash } from 'node:crypto';
import type { Repository } from '../repo/repository.js';
import { recipientFingerprint } from '../crypto/age.js';
import { PartUpload } from '../pipeline/part-upload.js';
import { OperationError } from '../errors.js';
import { documentHash } from '../repo/signed-document.js';
import { binlogSeq } from './file-names.js';
import { partialDataKey } from '../storage/layout.js';
import type { BinlogScan } from './event-scan.js';
import type { PartialSegmentManifest } from './segment-manifest.js';
import type { ShipFileOptions } from './ship-file.js';

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
  const upload = await PartUpload.start({ storage: o.repo.storage, key, recipients: o.recipients, compressionLevel: o.compressionLevel, compressionThreads: o.compressionThreads, sizeHint: p.to - p.from, unlocked: true });
  try {
    for await (const chunk of createReadStream(p.path, { start: p.from, end: p.to - 1, highWaterMark: 1 << 20 })) {
      p.prefix.update(chunk as Buffer);
      await upload.write(chunk as Buffer);
    }
  } catch (err) {
    upload.abort(err as Error);
    await upload.end().catch(() => undefined);
    throw err;
  }
  const object = await upload.end();
  if (object.raw.bytes !== p.to - p.from) throw new OperationError(`spool file ${p.path} is shorter than it was scanned (${p.to - p.from} bytes expected from ${p.from}, ${object.raw.bytes} read)`);
  const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
  o.assertWriter?.();
  return o.repo.binlogs.commitPartial({
    repositoryId: o.repo.config.id,
    serverUuid: o.sourceId,
    flavor: o.flavor,
    originServerId: scan.originServerId,
    file: p.file,
    sequence: binlogSeq(p.file),
    previousFile: p.previousFile,
    startPosition: 4,
    endPosition: p.to,
    events: scan.events,
    transactions: scan.transactions,
    firstEventTime: scan.firstEventTime.toISOString(),
    lastEventTime: scan.lastEventTime.toISOString(),
    firstTransactionTime: iso(scan.firstTransactionTime),
    lastTransactionTime: iso(scan.lastTransactionTime),
    gtid: { atStart: scan.gtidAtStart, first: scan.firstGtid, last: scan.lastGtid, atEnd: scan.gtidAtEnd },
    content: scan.content,
    key,
    rawBytes: object.raw.bytes,
    rawSha256: object.raw.sha256,
    storedBytes: object.stored.bytes,
    storedSha256: object.stored.sha256,
    compression: { format: 'zstd', level: o.compressionLevel },
    encryption: { format: 'age', recipients: o.recipients.map(recipientFingerprint) },
    shippedAt: new Date().toISOString(),
    tools: o.tools,
    partial: { part, from: p.from, previous: p.previous ? documentHash(p.previous) : null, prefixSha256: p.prefix.copy().digest('hex') },
  });
}
