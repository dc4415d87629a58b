// Reading what the repository holds for a binlog source: the shipped files (from the
// listing alone, cheap, used by the shipper to resume), their verified segment
// manifests (used by status and PITR), the gap records and the shipper heartbeat.
import type { Repository } from '../repo/repository.js';
import { binlogsPrefix } from '../storage/layout.js';
import { VerificationError, isNotFound } from '../errors.js';
import { log } from '../util/logger.js';
import { verifyDocument } from '../crypto/signing.js';
import { compareBinlogNames } from './file-names.js';
import { gapsPrefix, parseSourceKey, segmentManifestKey, shipperStateKey, sourcePrefix, SOURCE_ID_RE } from './source-keys.js';
import { parseVerifiedSegment, type SegmentManifest } from './segment-manifest.js';
import { parseVerifiedGap, type GapRecord } from './gap-record.js';

/** Source ids with anything under `binlogs/`, sorted. */
export async function listBinlogSources(repo: Repository): Promise<string[]> {
  const ids = new Set<string>();
  for await (const obj of repo.storage.list(binlogsPrefix)) {
    const id = obj.key.slice(binlogsPrefix.length).split('/')[0] ?? '';
    if (SOURCE_ID_RE.test(id)) ids.add(id);
  }
  return [...ids].sort();
}

/** Files with a segment manifest (shipped = committed), in sequence order; no verification. */
export async function listShippedFiles(repo: Repository, sourceId: string): Promise<string[]> {
  const files: string[] = [];
  for await (const obj of repo.storage.list(sourcePrefix(sourceId))) {
    const k = parseSourceKey(obj.key);
    if (k?.kind === 'manifest') files.push(k.file);
  }
  return files.sort(compareBinlogNames);
}

export async function readSegment(repo: Repository, sourceId: string, file: string): Promise<SegmentManifest> {
  const key = segmentManifestKey(sourceId, file);
  return parseVerifiedSegment(await repo.storage.getBuffer(key), key, repo.publicKey, { repositoryId: repo.config.id, serverUuid: sourceId, file });
}

export interface SegmentListing {
  /** Verified manifests in sequence order. */
  segments: SegmentManifest[];
  /** Manifests that did not verify (named in the message); their files count as missing. */
  problems: string[];
}

/** Every verified segment manifest of a source; bad ones are reported, never used. */
export async function readSegments(repo: Repository, sourceId: string): Promise<SegmentListing> {
  const out: SegmentListing = { segments: [], problems: [] };
  for (const file of await listShippedFiles(repo, sourceId)) {
    try {
      out.segments.push(await readSegment(repo, sourceId, file));
    } catch (err) {
      if (!(err instanceof VerificationError) && !isNotFound(err)) throw err;
      log.error({ sourceId, file, err: (err as Error).message }, 'binlog segment manifest does not verify; treating the file as missing');
      out.problems.push((err as Error).message);
    }
  }
  return out;
}

export async function readGaps(repo: Repository, sourceId: string): Promise<GapRecord[]> {
  const gaps: GapRecord[] = [];
  for await (const obj of repo.storage.list(gapsPrefix(sourceId))) {
    if (!obj.key.endsWith('.json')) continue;
    try {
      gaps.push(parseVerifiedGap(await repo.storage.getBuffer(obj.key), obj.key, repo.publicKey));
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      // A gap record that does not verify still says something is wrong: keep it loud.
      log.error({ key: obj.key, err: err.message }, 'binlog gap record does not verify');
    }
  }
  return gaps.sort((a, b) => compareBinlogNames(a.from, b.from));
}

/** Why shipping is stuck, as the shipper last saw it (cleared once it recovers). */
export interface ShipperProblem {
  kind: 'spool-full';
  message: string;
  since: string;
}

/**
 * The shipper's heartbeat, rewritten every few seconds whether the source is idle or
 * busy. RPO is measured from it: everything the source wrote before `caughtUpAt`, and
 * every event up to `offsite`, is in the repository.
 */
export interface ShipperState {
  format: 'horizn-dbops/binlog-shipper-state';
  /** 1: written only while caught up (caughtUpAt = write time). 2: written always. */
  version: 1 | 2;
  serverUuid: string;
  /** When this heartbeat was written (version 1: caughtUpAt). */
  writtenAt?: string;
  /** The last instant the source had nothing unshipped; null when not seen yet. */
  caughtUpAt: string | null;
  /** The source's active file and position at caughtUpAt (not shipped then: it held no transaction). */
  activeFile: string | null;
  activePosition: number | null;
  /** The newest event known to be in the repository: the end of the newest shipped segment. */
  offsite?: { file: string; endPosition: number; lastEventTime: string } | null;
  problem?: ShipperProblem | null;
  host: string;
  pid: number;
}

export async function readShipperState(repo: Repository, sourceId: string): Promise<ShipperState | null> {
  const key = shipperStateKey(sourceId);
  try {
    const doc = JSON.parse((await repo.storage.getBuffer(key)).toString('utf8')) as ShipperState;
    verifyDocument(doc, repo.publicKey, key);
    return doc.serverUuid === sourceId && (typeof doc.caughtUpAt === 'string' || doc.caughtUpAt === null) ? doc : null;
  } catch (err) {
    if (isNotFound(err)) return null;
    if (err instanceof VerificationError || err instanceof SyntaxError) {
      log.warn({ key, err: err.message }, 'binlog shipper state does not verify; ignoring it');
      return null;
    }
    throw err;
  }
}
