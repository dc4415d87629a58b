// What point-in-time recovery needs inside the window, per source. A full backup B
// reaches every point from its consistent point to the end of the unbroken run of
// binlog files that starts at B's file; files after the newest shipped one are still
// to come (lag, not a gap). Inside the window we keep the newest full at or before
// the window start (the anchor), every full that starts a new run after a gap, and
// every binlog from the anchor's file on. Everything older than that is not needed
// to reach any point inside the window.
import { binlogSeq, shiftBinlogName } from '../binlog/file-names.js';
import type { BackupFacts, SegmentFacts } from './types.js';

export interface PitrKeep {
  /** Backup id → why the window needs it. */
  keep: Map<string, string>;
  /** Segments with sequence ≥ this stay; null keeps every segment. */
  keepFromSeq: number | null;
  /** The backup whose consistent point starts the kept chain (null with keepFromSeq). */
  fromBackup: BackupFacts | null;
  keepReason: string;
}

interface Chain {
  have: Set<number>;
  last: number | null;
  bySeq: Map<number, SegmentFacts>;
}

function chainOf(segments: readonly SegmentFacts[]): Chain {
  const bySeq = new Map(segments.map((s) => [s.sequence, s]));
  const last = segments.length ? Math.max(...segments.map((s) => s.sequence)) : null;
  return { have: new Set(bySeq.keys()), last, bySeq };
}

/** Last sequence the chain from `seq` reaches without a hole; Infinity when it runs into the unshipped tail. */
function reachEnd(chain: Chain, seq: number): number {
  if (chain.last === null) return Infinity;
  for (let s = seq; s <= chain.last; s++) if (!chain.have.has(s)) return s - 1;
  return Infinity;
}

function byTime(a: BackupFacts, b: BackupFacts): number {
  return a.completedAt.localeCompare(b.completedAt) || a.id.localeCompare(b.id);
}

/** The fulls and binlogs of ONE source that the window needs (backups and segments of that source only; for one database, the backups that hold it). */
export function pitrKeep(backups: readonly BackupFacts[], segments: readonly SegmentFacts[], windowStart: string): PitrKeep {
  const keep = new Map<string, string>();
  const sorted = [...backups].sort(byTime);
  if (sorted.length === 0) return { keep, keepFromSeq: null, fromBackup: null, keepReason: 'no full backup of this source: every binlog is kept' };
  const chain = chainOf(segments);
  // The anchor must roll forward: a full without a binlog position reaches only its own point.
  const atOrBefore = sorted.filter((b) => b.completedAt <= windowStart);
  const anchor = atOrBefore.filter((b) => b.cpFile).at(-1) ?? atOrBefore.at(-1) ?? sorted[0]!;
  keep.set(anchor.id, atOrBefore.length ? 'pitr: newest full at or before the window start' : 'pitr: oldest full (the window reaches back before it)');
  let coverEnd = anchor.cpFile ? reachEnd(chain, binlogSeq(anchor.cpFile)) : -Infinity;
  for (const b of sorted.slice(sorted.indexOf(anchor) + 1)) {
    if (!b.cpFile) {
      if (b.completedAt > windowStart) keep.set(b.id, 'pitr: in the window without a binlog position (its own point is reachable only through it)');
      continue;
    }
    const seq = binlogSeq(b.cpFile);
    if (coverEnd >= seq) continue;
    keep.set(b.id, coverEnd === -Infinity ? 'pitr: first full in the window with a binlog position' : `pitr: first full after the binlog gap before ${b.cpFile}`);
    coverEnd = Math.max(coverEnd, reachEnd(chain, seq));
  }
  const seqs = sorted.filter((b) => keep.has(b.id) && b.cpFile).map((b) => binlogSeq(b.cpFile!));
  if (seqs.length === 0) return { keep, keepFromSeq: null, fromBackup: null, keepReason: 'no full in the window has a binlog position: every binlog is kept' };
  const keepFromSeq = Math.min(...seqs);
  const from = sorted.find((b) => keep.has(b.id) && b.cpFile && binlogSeq(b.cpFile) === keepFromSeq)!;
  return { keep, keepFromSeq, fromBackup: from, keepReason: `pitr: from ${from.cpFile}, the consistent point of ${from.id}, on` };
}

export interface WindowGap {
  serverUuid: string;
  /** First and last missing file. */
  from: string;
  to: string;
  /** Points between these times cannot be recovered (null: unknown side). */
  fromTime: string | null;
  toTime: string | null;
}

/**
 * Holes in the binlog chain that make part of the window unrecoverable: missing files
 * after the anchor's consistent point (before it nothing in the window depends on them).
 */
export function windowGaps(backups: readonly BackupFacts[], segments: readonly SegmentFacts[], windowStart: string): WindowGap[] {
  const sorted = [...backups].filter((b) => b.cpFile).sort(byTime);
  const chain = chainOf(segments);
  if (sorted.length === 0 || chain.last === null) return [];
  const anchor = sorted.filter((b) => b.completedAt <= windowStart).at(-1) ?? sorted[0]!;
  const out: WindowGap[] = [];
  const name = (seq: number): string => shiftBinlogName(anchor.cpFile!, seq - binlogSeq(anchor.cpFile!));
  let s = binlogSeq(anchor.cpFile!);
  while (s <= chain.last) {
    if (chain.have.has(s)) {
      s++;
      continue;
    }
    const start = s;
    while (s <= chain.last && !chain.have.has(s)) s++;
    const before = chain.bySeq.get(start - 1);
    const after = chain.bySeq.get(s);
    const toTime = after?.firstEventTime ?? null;
    if (toTime !== null && toTime < windowStart) continue;
    out.push({ serverUuid: anchor.serverUuid, from: name(start), to: name(s - 1), fromTime: before?.lastEventTime ?? null, toTime });
  }
  return out;
}
