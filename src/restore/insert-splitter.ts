// Cuts one table part (mysqldump text) into three sections so its rows can load over
// several connections at once: the head (session settings, DROP/CREATE TABLE) that must
// run first, the INSERT statements that may run in any order on any connection, and the
// tail (ENABLE KEYS, triggers, deferred indexes) that must run after every row.
// Why the boundaries are safe to find by bytes: mysqldump escapes newlines inside string
// literals (\n), so a raw "\n" is always outside a literal; an INSERT starts at a line
// beginning with "INSERT INTO " and ends at the first ";\n".
export type Section = 'head' | 'insert' | 'tail';

export interface Piece {
  section: Section;
  /** head/tail: any slice of the section; insert: exactly one whole statement. */
  data: Buffer;
}

const INSERT = Buffer.from('INSERT INTO ');
const NL_INSERT = Buffer.from('\nINSERT INTO ');
const END = Buffer.from(';\n');

export class InsertSplitter {
  private section: Section = 'head';
  /** head: everything not yet emitted; insert: the current statement's chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes after a statement's end not yet known to start another INSERT. */
  private lookahead = Buffer.alloc(0);
  /** A statement just ended: what comes next decides between another INSERT and the tail. */
  private atBoundary = false;
  private lastByte = -1;

  /** Feed the next chunk; returns the pieces it completed, in order. */
  push(chunk: Buffer): Piece[] {
    const out: Piece[] = [];
    this.consume(chunk, out);
    return out;
  }

  /** After the last chunk: whatever is left (an unfinished statement goes out as it is, and the server will say what is wrong). */
  end(): Piece[] {
    const out: Piece[] = [];
    if (this.section === 'insert') {
      if (this.pendingBytes > 0) out.push({ section: 'insert', data: Buffer.concat(this.pending) });
      if (this.lookahead.length > 0) out.push({ section: 'tail', data: this.lookahead });
    } else if (this.pendingBytes > 0) {
      out.push({ section: this.section, data: Buffer.concat(this.pending) });
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.lookahead = Buffer.alloc(0);
    return out;
  }

  private consume(chunk: Buffer, out: Piece[]): void {
    if (chunk.length === 0) return;
    if (this.section === 'tail') {
      out.push({ section: 'tail', data: chunk });
      return;
    }
    if (this.section === 'head') {
      this.keep(chunk);
      // The head is small (settings and one CREATE TABLE): searching it whole is cheap.
      const head = Buffer.concat(this.pending);
      const at = head.subarray(0, INSERT.length).equals(INSERT) ? 0 : head.indexOf(NL_INSERT);
      if (at < 0) {
        this.pending = [head];
        return;
      }
      const start = at === 0 ? 0 : at + 1;
      this.pending = [];
      this.pendingBytes = 0;
      if (start > 0) out.push({ section: 'head', data: head.subarray(0, start) });
      this.section = 'insert';
      this.lastByte = -1;
      this.consume(head.subarray(start), out);
      return;
    }
    // insert: resolve a lookahead left by the previous statement's end first.
    if (this.atBoundary) {
      const joined = this.lookahead.length > 0 ? Buffer.concat([this.lookahead, chunk]) : chunk;
      this.lookahead = Buffer.alloc(0);
      this.afterStatement(joined, out);
      return;
    }
    this.scanStatement(chunk, out);
  }

  /** Inside a statement: find its end in `chunk` (the ";" may close the previous chunk). */
  private scanStatement(chunk: Buffer, out: Piece[]): void {
    let end = this.lastByte === 0x3b && chunk[0] === 0x0a ? 1 : -1;
    if (end < 0) {
      const at = chunk.indexOf(END);
      if (at >= 0) end = at + 2;
    }
    if (end < 0) {
      this.keep(chunk);
      this.lastByte = chunk[chunk.length - 1]!;
      return;
    }
    this.keep(chunk.subarray(0, end));
    out.push({ section: 'insert', data: this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes) });
    this.pending = [];
    this.pendingBytes = 0;
    this.lastByte = -1;
    this.afterStatement(chunk.subarray(end), out);
  }

  /** Right after a statement: another INSERT continues the section, anything else starts the tail. */
  private afterStatement(rest: Buffer, out: Piece[]): void {
    this.atBoundary = true;
    if (rest.length === 0) return;
    const n = Math.min(rest.length, INSERT.length);
    if (!rest.subarray(0, n).equals(INSERT.subarray(0, n))) {
      this.section = 'tail';
      this.atBoundary = false;
      out.push({ section: 'tail', data: rest });
      return;
    }
    if (rest.length < INSERT.length) {
      this.lookahead = Buffer.from(rest);
      return;
    }
    this.atBoundary = false;
    this.scanStatement(rest, out);
  }

  private keep(b: Buffer): void {
    if (b.length === 0) return;
    this.pending.push(b);
    this.pendingBytes += b.length;
  }
}

/** The session-setting lines of a head (SET NAMES, TIME_ZONE, SQL_MODE…), which every connection loading rows needs too. */
export function sessionSettings(head: Buffer): string {
  return head
    .toString('utf8')
    .split('\n')
    .filter((line) => /^(?:\/\*!\d+ )?SET [^\n]*;$/i.test(line))
    .map((line) => `${line}\n`)
    .join('');
}
