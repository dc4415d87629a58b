// Binlog file names are `<basename>.<zero-padded sequence>`; shipping order, gap
// detection and "the next file" all come from the sequence, never from string order
// (binlog.999999 is followed by binlog.1000000).
import { OperationError } from '../errors.js';

export interface BinlogName {
  base: string;
  seq: number;
  width: number;
}

const NAME_RE = /^([A-Za-z0-9][A-Za-z0-9._-]*)\.(\d{1,10})$/;

export function parseBinlogName(file: string): BinlogName | undefined {
  const m = NAME_RE.exec(file);
  if (!m) return undefined;
  return { base: m[1]!, seq: Number(m[2]), width: m[2]!.length };
}

export function isBinlogName(file: string): boolean {
  return parseBinlogName(file) !== undefined;
}

function mustParse(file: string): BinlogName {
  const n = parseBinlogName(file);
  if (!n) throw new OperationError(`"${file}" is not a binlog file name (expected <basename>.<number>)`);
  return n;
}

export function binlogSeq(file: string): number {
  return mustParse(file).seq;
}

/** The file `delta` places after (or before, when negative) `file`, same basename and padding. */
export function shiftBinlogName(file: string, delta: number): string {
  const n = mustParse(file);
  return `${n.base}.${String(n.seq + delta).padStart(n.width, '0')}`;
}

export function compareBinlogNames(a: string, b: string): number {
  return binlogSeq(a) - binlogSeq(b) || a.localeCompare(b);
}
