// Ships one closed binlog file from the spool: data object first (raw → zstd → age →
// measure → storage, the same pipeline as backup parts), then the signed segment
// manifest as the commit marker. The caller removes the spool file afterwards.
import { createReadStream } from 'node:fs';
import type { Repository } from '../repo/repository.js';
import { recipientFingerprint } from '../crypto/age.js';
import { PartUpload, type UploadedObject } from '../pipeline/part-upload.js';
import type { Flavor } from '../mysql/server-info.js';
import { OperationError } from '../errors.js';
import { binlogSeq } from './file-names.js';
import { segmentDataKey, segmentManifestKey } from '../storage/layout.js';
import { EventType, type BinlogScan } from './event-scan.js';
import { type SegmentManifest, type UnsignedSegmentManifest } from './segment-manifest.js';

export interface ShipFileOptions {
  repo: Repository;
  recipients: readonly string[];
  compressionLevel: number;
  compressionThreads: number;
  sourceId: string;
  flavor: Flavor;
  tools: Record<string, string>;
  /** Throws when this process may no longer write (its lease was lost); asked before each write. */
  assertWriter?: () => void;
}

export async function shipFile(o: ShipFileOptions, path: string, file: string, scan: BinlogScan, previousFile: string | null): Promise<SegmentManifest> {
  if (scan.partialBytes !== 0 || !scan.firstEventTime || !scan.lastEventTime) {
    throw new OperationError(`spool file ${path} ends inside an event (${scan.partialBytes} stray bytes): it is not complete; it will be streamed again`);
  }
  const key = segmentDataKey(o.sourceId, file);
  // Never replace a committed segment (its data object is what the signed manifest describes).
  if (await o.repo.storage.stat(segmentManifestKey(o.sourceId, file))) {
    throw new OperationError(`segment ${file} is already in the repository (${segmentManifestKey(o.sourceId, file)}): is another shipper writing to it? Only one may`);
  }
  o.assertWriter?.();
  // To the end of the file, whatever its size now: a file that changed is refused below.
  const object = await uploadSpoolRange(o, key, path, { start: 0 }, { sizeHint: scan.size });
  if (object.raw.bytes !== scan.size) {
    throw new OperationError(`spool file ${path} changed while it was shipped (${scan.size} bytes scanned, ${object.raw.bytes} uploaded): is another shipper using this spool directory?`);
  }
  const unsigned: UnsignedSegmentManifest = {
    ...segmentDescription(o, file, scan, key, object),
    previousFile,
    startPosition: 4,
    endPosition: scan.endPosition,
    closedBy: scan.lastEventType === EventType.ROTATE ? 'rotate' : scan.lastEventType === EventType.STOP ? 'stop' : 'next-file',
  };
  o.assertWriter?.();
  return o.repo.binlogs.commitSegment(unsigned);
}

/**
 * Bytes [start, end) of a spool file (to its end without `end`) through the backup parts'
 * pipeline into `key`; `onChunk` sees each chunk on the way.
 */
export async function uploadSpoolRange(
  o: ShipFileOptions,
  key: string,
  path: string,
  range: { start: number; end?: number },
  options: { sizeHint: number; unlocked?: boolean; onChunk?: (chunk: Buffer) => void },
): Promise<UploadedObject> {
  const upload = await PartUpload.start({ storage: o.repo.storage, key, recipients: o.recipients, compressionLevel: o.compressionLevel, compressionThreads: o.compressionThreads, sizeHint: options.sizeHint, ...(options.unlocked ? { unlocked: true } : {}) });
  try {
    for await (const chunk of createReadStream(path, { start: range.start, ...(range.end !== undefined ? { end: range.end - 1 } : {}), highWaterMark: 1 << 20 })) {
      options.onChunk?.(chunk as Buffer);
      await upload.write(chunk as Buffer);
    }
  } catch (err) {
    upload.abort(err as Error);
    await upload.end().catch(() => undefined);
    throw err;
  }
  return upload.end();
}

/** What the manifests of whole and partial segments share: where the bytes came from, what they hold, how they are stored. */
export function segmentDescription(o: ShipFileOptions, file: string, scan: BinlogScan, key: string, object: UploadedObject) {
  const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
  return {
    repositoryId: o.repo.config.id,
    serverUuid: o.sourceId,
    flavor: o.flavor,
    originServerId: scan.originServerId,
    file,
    sequence: binlogSeq(file),
    events: scan.events,
    transactions: scan.transactions,
    firstEventTime: iso(scan.firstEventTime)!,
    lastEventTime: iso(scan.lastEventTime)!,
    firstTransactionTime: iso(scan.firstTransactionTime),
    lastTransactionTime: iso(scan.lastTransactionTime),
    gtid: { atStart: scan.gtidAtStart, first: scan.firstGtid, last: scan.lastGtid, atEnd: scan.gtidAtEnd },
    content: scan.content,
    key,
    rawBytes: object.raw.bytes,
    rawSha256: object.raw.sha256,
    storedBytes: object.stored.bytes,
    storedSha256: object.stored.sha256,
    compression: { format: 'zstd' as const, level: o.compressionLevel },
    encryption: { format: 'age' as const, recipients: o.recipients.map(recipientFingerprint) },
    shippedAt: new Date().toISOString(),
    tools: o.tools,
  };
}
