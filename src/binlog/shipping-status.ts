// How far behind shipping is, from the repository alone (what the daemon's /metrics,
// `binlog status` and PITR's "recoverable window" need): the newest shipped event (in a
// whole file or in the partial segments of the file the source is writing), the lag, the
// files and every gap, recorded or merely visible as a hole in the sequence.
import type { Repository } from '../repo/repository.js';
import { binlogSeq, shiftBinlogName } from './file-names.js';
import type { GapRecord } from './gap-record.js';
import { type ShipperState } from './shipper-state.js';
import { isPrefix, type SegmentManifest } from './segment-manifest.js';

export interface StatusGap {
  from: string;
  to: string;
  reason: GapRecord['reason'];
  /** False for a hole in the shipped sequence that no gap record explains. */
  recorded: boolean;
  detectedAt: string | null;
}

export interface ShippingStatus {
  serverUuid: string;
  files: number;
  firstFile: string | null;
  lastFile: string | null;
  rawBytes: number;
  storedBytes: number;
  /** Oldest and newest event time in any shipped segment (ISO, UTC). */
  oldestEventTime: string | null;
  newestEventTime: string | null;
  /**
   * Everything the source wrote before this instant is in the repository: the newest
   * shipped event, or the shipper's last "nothing unshipped" heartbeat if later (so an
   * idle source does not look like a lagging one while the shipper runs).
   */
  caughtUpTo: string | null;
  /** now − caughtUpTo, in whole seconds; null when nothing was shipped yet. */
  lagSeconds: number | null;
  gaps: StatusGap[];
  /** Segment manifests that did not verify. */
  problems: string[];
  shipper: ShipperState | null;
  /** The file the source is still writing, as far as its partial segments hold it (null when none). */
  partial: { file: string; endPosition: number; parts: number; lastEventTime: string; storedBytes: number } | null;
}

export async function shippingStatus(repo: Repository, serverUuid: string, now: Date = new Date()): Promise<ShippingStatus> {
  const { segments: chain, problems } = await repo.binlogs.chainSegments(serverUuid);
  const segments = chain.filter((s): s is SegmentManifest => !isPrefix(s));
  // The prefix after the newest whole file: older prefixes are what a purged file left.
  const prefix = chain.filter(isPrefix).filter((p) => !segments.length || p.sequence > segments.at(-1)!.sequence).at(-1);
  const recorded = await repo.binlogs.gaps(serverUuid);
  const shipper = await repo.binlogs.shipperState(serverUuid);
  const gaps: StatusGap[] = recorded.map((g) => ({ from: g.from, to: g.to, reason: g.reason, recorded: true, detectedAt: g.detectedAt }));
  const covered = (seq: number): boolean => recorded.some((g) => binlogSeq(g.from) <= seq && seq <= binlogSeq(g.to));
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    const cur = segments[i]!;
    const from = prev.sequence + 1;
    const to = cur.sequence - 1;
    if (from > to) continue;
    const uncovered = Array.from({ length: to - from + 1 }, (_, k) => from + k).filter((s) => !covered(s));
    if (uncovered.length > 0) {
      gaps.push({ from: shiftBinlogName(prev.file, uncovered[0]! - prev.sequence), to: shiftBinlogName(prev.file, uncovered.at(-1)! - prev.sequence), reason: 'missing-from-sequence', recorded: false, detectedAt: null });
    }
  }
  let newest: string | null = null;
  let oldest: string | null = null;
  for (const s of segments) {
    if (!newest || s.lastEventTime > newest) newest = s.lastEventTime;
    if (!oldest || s.firstEventTime < oldest) oldest = s.firstEventTime;
  }
  if (prefix && (!newest || prefix.lastEventTime > newest)) newest = prefix.lastEventTime;
  let caughtUpTo = newest;
  // Only once something is shipped (a whole file or parts of the active one) does "caught up" count.
  if (shipper?.caughtUpAt && (!caughtUpTo || shipper.caughtUpAt > caughtUpTo) && (segments.length > 0 || prefix)) caughtUpTo = shipper.caughtUpAt;
  const last = segments.at(-1);
  return {
    serverUuid,
    files: segments.length,
    firstFile: segments[0]?.file ?? null,
    lastFile: last?.file ?? null,
    rawBytes: segments.reduce((n, s) => n + s.rawBytes, 0),
    storedBytes: segments.reduce((n, s) => n + s.storedBytes, 0),
    oldestEventTime: oldest,
    newestEventTime: newest,
    caughtUpTo,
    lagSeconds: caughtUpTo ? Math.max(0, Math.round((now.getTime() - Date.parse(caughtUpTo)) / 1000)) : null,
    gaps: gaps.sort((a, b) => binlogSeq(a.from) - binlogSeq(b.from)),
    problems,
    shipper,
    partial: prefix ? { file: prefix.file, endPosition: prefix.endPosition, parts: prefix.parts.length, lastEventTime: prefix.lastEventTime, storedBytes: prefix.parts.reduce((n, p) => n + p.storedBytes, 0) } : null,
  };
}
