// Binlogs in a repository, per source: the shipped files (from the listing alone, cheap,
// used by the shipper to resume), their verified segment manifests (status, PITR), the
// partial segments of the file the source is still writing (their hash chain checked), the
// gap records and the shipper heartbeat. A segment manifest is a segment's commit marker:
// written after its data object, as a backup manifest is after its parts.
import type { Repository } from './repository.js';
import { binlogsPrefix, gapKey, gapsPrefix, parseSourceKey, partialFilePrefix, partialManifestKey, partialsPrefix, segmentManifestKey, shipperStateKey, sourcePrefix, SOURCE_ID_RE } from '../storage/layout.js';
import { OperationError, VerificationError, isNotFound } from '../errors.js';
import { createIfAbsent } from '../storage/conditional-create.js';
import { log } from '../util/logger.js';
import { compareBinlogNames } from '../binlog/file-names.js';
import { partialSegmentDoc, segmentManifestDoc, type ChainSegment, type PartialSegmentManifest, type SegmentManifest, type UnsignedPartialSegmentManifest, type UnsignedSegmentManifest } from '../binlog/segment-manifest.js';
import { gapRecordDoc, type GapRecord, type UnsignedGapRecord } from '../binlog/gap-record.js';
import { shipperStateDoc, type ShipperState, type UnsignedShipperState } from '../binlog/shipper-state.js';
import { decodeDocument, documentHash, encodeDocument } from './signed-document.js';

export interface SegmentListing {
  /** Verified manifests in sequence order. */
  segments: SegmentManifest[];
  /** Manifests that did not verify (named in the message); their files count as missing. */
  problems: string[];
}

export class BinlogStore {
  constructor(private readonly repo: Repository) {}

  /** Source ids with anything under `binlogs/`, sorted. */
  async sources(): Promise<string[]> {
    const ids = new Set<string>();
    for await (const obj of this.repo.storage.list(binlogsPrefix)) {
      const id = obj.key.slice(binlogsPrefix.length).split('/')[0] ?? '';
      if (SOURCE_ID_RE.test(id)) ids.add(id);
    }
    return [...ids].sort();
  }

  /** Files with a segment manifest (shipped = committed), in sequence order; no verification. */
  async shippedFiles(sourceId: string): Promise<string[]> {
    const files: string[] = [];
    for await (const obj of this.repo.storage.list(sourcePrefix(sourceId))) {
      const k = parseSourceKey(obj.key);
      if (k?.kind === 'manifest') files.push(k.file);
    }
    return files.sort(compareBinlogNames);
  }

  async segment(sourceId: string, file: string): Promise<SegmentManifest> {
    const key = segmentManifestKey(sourceId, file);
    const m = decodeDocument(segmentManifestDoc, await this.repo.storage.getBuffer(key), key, this.repo.publicKey);
    if (m.file !== file || m.serverUuid !== sourceId) throw new VerificationError(`${key} describes ${m.serverUuid}/${m.file}: the manifest was moved or swapped`, key);
    if (m.repositoryId !== this.repo.config.id) throw new VerificationError(`${key} belongs to repository ${m.repositoryId}, not ${this.repo.config.id}`, key);
    return m;
  }

  /** Every verified segment manifest of a source; bad ones are reported, never used. */
  async segments(sourceId: string): Promise<SegmentListing> {
    const out: SegmentListing = { segments: [], problems: [] };
    for (const file of await this.shippedFiles(sourceId)) {
      try {
        out.segments.push(await this.segment(sourceId, file));
      } catch (err) {
        if (!(err instanceof VerificationError) && !isNotFound(err)) throw err;
        log.error({ sourceId, file, err: (err as Error).message }, 'binlog segment manifest does not verify; treating the file as missing');
        out.problems.push((err as Error).message);
      }
    }
    return out;
  }

  /** Commit a shipped file (its data object must already be stored). Create-only: a segment's commit marker is written once, by one shipper. */
  async commitSegment(unsigned: UnsignedSegmentManifest): Promise<SegmentManifest> {
    const { doc, bytes } = encodeDocument(segmentManifestDoc, unsigned, this.repo.signer());
    const key = segmentManifestKey(doc.serverUuid, doc.file);
    if (!(await createIfAbsent(this.repo.storage, key, bytes, { contentType: 'application/json' }))) {
      throw new OperationError(`segment manifest ${key} was written by another shipper meanwhile: only one may write; this one stops`);
    }
    return doc;
  }

  /** Files with partial segments, each with its part numbers (listing only, no verification). */
  async partialFiles(sourceId: string): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    for await (const obj of this.repo.storage.list(partialsPrefix(sourceId))) {
      const k = parseSourceKey(obj.key);
      if (k?.kind === 'partial-manifest') out.set(k.file, [...(out.get(k.file) ?? []), k.part].sort((a, b) => a - b));
    }
    return out;
  }

  /**
   * The verified parts of `file`, in order: the run that chains from part 1 (each starting
   * where the one before ended and naming its hash). A part that does not verify or does
   * not chain ends the run, and is reported.
   */
  async partials(sourceId: string, file: string, numbers?: number[]): Promise<{ parts: PartialSegmentManifest[]; problems: string[] }> {
    const out: { parts: PartialSegmentManifest[]; problems: string[] } = { parts: [], problems: [] };
    for (const n of numbers ?? (await this.partialFiles(sourceId)).get(file) ?? []) {
      const key = partialManifestKey(sourceId, file, n);
      const prev = out.parts.at(-1);
      try {
        const m = decodeDocument(partialSegmentDoc, await this.repo.storage.getBuffer(key), key, this.repo.publicKey);
        if (m.file !== file || m.serverUuid !== sourceId || m.partial.part !== n) throw new VerificationError(`${key} describes ${m.serverUuid}/${m.file} part ${m.partial.part}: the manifest was moved or swapped`, key);
        if (m.repositoryId !== this.repo.config.id) throw new VerificationError(`${key} belongs to repository ${m.repositoryId}, not ${this.repo.config.id}`, key);
        const chained = prev ? m.partial.from === prev.endPosition && m.partial.previous === documentHash(prev) : n === 1 && m.partial.from === 0 && m.partial.previous === null;
        if (!chained) throw new VerificationError(`${key} does not follow ${prev ? `part ${prev.partial.part} (it ends at ${prev.endPosition})` : 'the start of the file'}: the partial segments of ${file} are not one chain`, key);
        out.parts.push(m);
      } catch (err) {
        if (!(err instanceof VerificationError) && !isNotFound(err)) throw err;
        log.error({ sourceId, file, part: n, err: (err as Error).message }, 'partial binlog segment does not verify; the shipped prefix ends before it');
        out.problems.push((err as Error).message);
        break;
      }
    }
    return out;
  }

  /** Commit a part of the active file (its data object already stored). Create-only, like a whole segment. */
  async commitPartial(unsigned: UnsignedPartialSegmentManifest): Promise<PartialSegmentManifest> {
    const { doc, bytes } = encodeDocument(partialSegmentDoc, unsigned, this.repo.signer());
    const key = partialManifestKey(doc.serverUuid, doc.file, doc.partial.part);
    // Unlocked: the whole file replaces these within a rotation period, and is locked itself.
    if (!(await createIfAbsent(this.repo.storage, key, bytes, { contentType: 'application/json', unlocked: true }))) {
      throw new OperationError(`partial segment manifest ${key} was written by another shipper meanwhile: only one may write; this one stops`);
    }
    return doc;
  }

  /** Remove every partial segment of `file` (once its whole segment is committed): manifests first, so no manifest outlives its data. */
  async removePartials(sourceId: string, file: string): Promise<number> {
    const keys: string[] = [];
    for await (const obj of this.repo.storage.list(partialFilePrefix(sourceId, file))) keys.push(obj.key);
    const manifests = keys.filter((k) => parseSourceKey(k)?.kind === 'partial-manifest');
    for (const k of manifests) await this.repo.storage.remove(k);
    for (const k of keys.filter((k) => !manifests.includes(k))) await this.repo.storage.remove(k);
    return manifests.length;
  }

  /**
   * What recovery can read, in sequence order: every verified whole segment and, for a file
   * with partial segments but no whole one, the prefix they hold (see ChainSegment).
   */
  async chainSegments(sourceId: string): Promise<{ segments: ChainSegment[]; problems: string[] }> {
    const { segments: whole, problems } = await this.segments(sourceId);
    const out: ChainSegment[] = [...whole];
    const have = new Set(whole.map((s) => s.file));
    for (const [file, numbers] of await this.partialFiles(sourceId)) {
      if (have.has(file)) continue;
      const { parts, problems: bad } = await this.partials(sourceId, file, numbers);
      problems.push(...bad);
      const last = parts.at(-1);
      if (!last) continue;
      const { partial: _partial, ...described } = last;
      out.push({ ...described, parts });
    }
    return { segments: out.sort((a, b) => a.sequence - b.sequence), problems };
  }

  async gaps(sourceId: string): Promise<GapRecord[]> {
    const gaps: GapRecord[] = [];
    for await (const obj of this.repo.storage.list(gapsPrefix(sourceId))) {
      if (!obj.key.endsWith('.json')) continue;
      try {
        gaps.push(decodeDocument(gapRecordDoc, await this.repo.storage.getBuffer(obj.key), obj.key, this.repo.publicKey));
      } catch (err) {
        if (!(err instanceof VerificationError)) throw err;
        // A gap record that does not verify still says something is wrong: keep it loud.
        log.error({ key: obj.key, err: err.message }, 'binlog gap record does not verify');
      }
    }
    return gaps.sort((a, b) => compareBinlogNames(a.from, b.from));
  }

  async hasGap(sourceId: string, from: string, to: string): Promise<boolean> {
    return (await this.repo.storage.stat(gapKey(sourceId, from, to))) !== undefined;
  }

  async recordGap(unsigned: UnsignedGapRecord): Promise<GapRecord> {
    const { doc, bytes } = encodeDocument(gapRecordDoc, unsigned, this.repo.signer());
    await this.repo.storage.put(gapKey(doc.serverUuid, doc.from, doc.to), bytes, { contentType: 'application/json' });
    return doc;
  }

  /** The shipper's heartbeat; null when absent or not verifiable (a warning, not an error: it is advisory). */
  async shipperState(sourceId: string): Promise<ShipperState | null> {
    const key = shipperStateKey(sourceId);
    try {
      const doc = decodeDocument(shipperStateDoc, await this.repo.storage.getBuffer(key), key, this.repo.publicKey);
      return doc.serverUuid === sourceId ? doc : null;
    } catch (err) {
      if (isNotFound(err)) return null;
      if (err instanceof VerificationError) {
        log.warn({ key, err: err.message }, 'binlog shipper state does not verify; ignoring it');
        return null;
      }
      throw err;
    }
  }

  /** Rewritten every few seconds: a heartbeat, not backup data, so never locked (each locked
   *  write would pin one more version for pitrWindow + margin). */
  async putShipperState(unsigned: UnsignedShipperState): Promise<void> {
    const { bytes } = encodeDocument(shipperStateDoc, unsigned, this.repo.signer());
    await this.repo.storage.put(shipperStateKey(unsigned.serverUuid), bytes, { contentType: 'application/json', unlocked: true });
  }
}
