// The binlog chain between two points, from signed segment manifests alone: which files a
// replay needs, whether each one is in the repository, and — when one is not — the
// windows that ARE recoverable, so a refusal can say what the responder can do instead.
// A file known only through its partial segments (the source was still writing it) can
// end a chain but never be crossed: what it held after them is not in the repository.
import { isPrefix, type ChainSegment } from '../binlog/segment-manifest.js';
import type { GapRecord } from '../binlog/gap-record.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import { binlogSeq, shiftBinlogName } from '../binlog/file-names.js';
import { UsageError } from '../errors.js';

export interface ChainPoint {
  file: string;
  position: number;
}

/** <0 when a is before b (file sequence, then position). */
export function comparePoint(a: ChainPoint, b: ChainPoint): number {
  return binlogSeq(a.file) - binlogSeq(b.file) || a.position - b.position;
}

export function formatPoint(p: ChainPoint): string {
  return `${p.file}:${p.position}`;
}

export interface RecoverableWindow {
  /** The oldest backup this window starts from. */
  fromBackup: string;
  from: ChainPoint;
  fromTime: string;
  to: ChainPoint;
  toTime: string;
}

/**
 * Windows of points reachable from some backup through an unbroken run of shipped files:
 * one per run of consecutive segments that holds a backup's consistent point.
 */
export function recoverableWindows(segments: ChainSegment[], backups: BackupManifest[]): RecoverableWindow[] {
  const runs: ChainSegment[][] = [];
  for (const s of segments) {
    const run = runs.at(-1);
    const prev = run?.at(-1);
    if (run && prev!.sequence + 1 === s.sequence && !isPrefix(prev!)) run.push(s);
    else runs.push([s]);
  }
  const out: RecoverableWindow[] = [];
  for (const run of runs) {
    const inRun = backups
      .filter((b) => b.consistentPoint.binlogFile && run.some((s) => s.file === b.consistentPoint.binlogFile))
      .sort((a, b) => comparePoint(cp(a), cp(b)));
    const first = inRun[0];
    if (!first) continue;
    const last = run.at(-1)!;
    out.push({ fromBackup: first.id, from: cp(first), fromTime: first.completedAt, to: { file: last.file, position: last.endPosition }, toTime: last.lastTransactionTime ?? last.lastEventTime });
  }
  return out;
}

export function cp(b: BackupManifest): ChainPoint {
  return { file: b.consistentPoint.binlogFile!, position: b.consistentPoint.binlogPosition! };
}

export function describeWindows(windows: RecoverableWindow[]): string {
  if (windows.length === 0) return 'no point is recoverable: no backup has its binlog coordinates in the shipped binlogs';
  return `recoverable: ${windows.map((w) => `${w.fromTime} → ${w.toTime} (${formatPoint(w.from)} → ${formatPoint(w.to)}, from backup ${w.fromBackup})`).join('; ')}`;
}

/**
 * The segments from `from.file` to `to.file`, in order; a UsageError naming the first
 * missing file (and why, from the gap records) and the recoverable windows otherwise.
 */
export function selectChain(segments: ChainSegment[], gaps: GapRecord[], backups: BackupManifest[], from: ChainPoint, to: ChainPoint): ChainSegment[] {
  const bySeq = new Map(segments.map((s) => [s.sequence, s]));
  const chain: ChainSegment[] = [];
  for (let seq = binlogSeq(from.file); seq <= binlogSeq(to.file); seq++) {
    const s = bySeq.get(seq);
    if (!s) {
      const missing = shiftBinlogName(from.file, seq - binlogSeq(from.file));
      const gap = gaps.find((g) => binlogSeq(g.from) <= seq && seq <= binlogSeq(g.to));
      const why = gap ? (gap.reason === 'purged-on-source' ? 'purged on the source before it was shipped' : 'missing from the shipped sequence') : 'not in the repository';
      throw new UsageError(`binlog ${missing} is ${why}: cannot replay from ${formatPoint(from)} to ${formatPoint(to)} across it; ${describeWindows(recoverableWindows(segments, backups))}`);
    }
    if (isPrefix(s) && seq < binlogSeq(to.file)) {
      throw new UsageError(`binlog ${s.file} was shipped only up to position ${s.endPosition} (partial segments) and the rest of it is not in the repository: cannot replay from ${formatPoint(from)} to ${formatPoint(to)} across it; ${describeWindows(recoverableWindows(segments, backups))}`);
    }
    chain.push(s);
  }
  return chain;
}
