// Ordering of binlog coordinates (file sequence number, then position), so a restore test
// can tell whether a checksum set lies at, after or before a backup's consistent point.
export interface BinlogPoint {
  binlogFile: string | null;
  binlogPosition: number | null;
}

function seq(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  return m ? Number(m[1]) : NaN;
}

/** <0 when a is before b, 0 equal, >0 after; NaN when either point is unknown. */
export function comparePoints(a: BinlogPoint, b: BinlogPoint): number {
  if (!a.binlogFile || !b.binlogFile || a.binlogPosition === null || b.binlogPosition === null) return NaN;
  const d = seq(a.binlogFile) - seq(b.binlogFile);
  return d !== 0 ? d : a.binlogPosition - b.binlogPosition;
}
