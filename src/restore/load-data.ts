// Loads a table part's rows with LOAD DATA LOCAL INFILE instead of its INSERT statements:
// the restore's RTO win that is left once secondary indexes are deferred. Measured on the
// 1 GB bench (pageviews, 400 MB of SQL): 22.2 s of server CPU and 27.3 s wall with the
// INSERTs through `mariadb`, 16.3 s and 16.2 s with LOAD DATA of the same rows.
//
// Everything else in the part (session settings, DROP/CREATE, triggers, the deferred
// ALTER) still goes through the same client session, in order. When the data section
// starts, the client gets one LOAD DATA statement naming a FIFO, and the rows, turned
// into TSV (tsv-rows.ts), go into that FIFO; when the section ends the FIFO is closed,
// the statement completes, and the rest of the SQL follows. Only tables whose columns all
// dump as plain NULL/number/string values take this path; any other table, a target
// whose local_infile is off, or an INSERT with a column list keeps the INSERTs.
//
// A LOAD DATA whose connection the server ends (KILL, a restart) can leave the client blocked
// for minutes: its socket in CLOSE-WAIT with megabytes queued, the server's side in FIN-WAIT-2,
// until TCP gives up (measured: ~100 s). So while our writes wait on a client that stopped
// reading, every STALL_CHECK_MS we ask the server whether the statement (marked with a comment)
// still runs; once it is gone, the restore fails at once with that reason.
//
// The client opens the FIFO by name, when its server asks for the file, and a FIFO's open
// waits for a writer. Opened by its own name, a restore killed (kill -9) between sending the
// statement and opening the write end left the client blocked in open() forever, an orphan
// holding its connection (found by the fault suite: after a slow DROP TABLE). So the
// statement names /proc/<our pid>/fd/<anchor> instead, a read end we hold open (the FIFO
// itself is unlinked at once): while we live it opens the same FIFO, and once we are gone
// the name is gone too and the client's LOAD DATA fails at once. Our write end is write-only,
// so the client sees end-of-file when we close it (once it has the FIFO open) or die; holding
// the anchor, we get no EPIPE when the client dies, so a write waiting on it also ends when
// the client exits.
//
// Measured and not kept: `cat` writing the FIFO (the client reads it 4 KiB at a time, and
// our writes follow; cat moved that cost instead of saving it: 46–50 s against 42–45 s for
// the whole 1 GB restore), and mysql2 sending the rows itself on a connection of its own.
// Measured alone (359 MB of pageviews TSV, tuned target): FIFO + client 12.9 core-seconds,
// mysql2 12.2 — about 1.4 of the 1 GB restore's 61, for three sessions per table instead of one.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { RowsToTsv } from './tsv-rows.js';
import { OperationError } from '../errors.js';
import { quoteIdent } from '../verify/quote-ident.js';

/** Column types whose values mysqldump writes as NULL, a bare number or a quoted string. */
const PLAIN_TYPE =
  /^(?:tinyint|smallint|mediumint|int|integer|bigint|decimal|numeric|float|double|real|date|datetime|timestamp|time|year|char|varchar|tinytext|text|mediumtext|longtext|enum|set|json)\b/i;
/** Binary types: --hex-blob writes them as 0x… (loaded through UNHEX). */
const BINARY_TYPE = /^(?:binary|varbinary|tinyblob|blob|mediumblob|longblob)\b/i;
/** Column attributes that change which values an INSERT without a column list carries. */
const SPECIAL_COLUMN = /\b(?:GENERATED|VIRTUAL|PERSISTENT|STORED|INVISIBLE)\b|\bAS \(|CHARACTER SET binary/;
/** A column's COMMENT '…', left out before looking for those words (a comment may say "stored"). */
const COMMENT = / COMMENT '(?:[^'\\]|\\.|'')*'/g;
const CREATE_LIMIT = 1 << 20;
/** How long a write may wait on the client before we ask the server whether its LOAD DATA still runs. */
const STALL_CHECK_MS = 5_000;
const NEED_MORE = -2;

export interface LoadColumns {
  /** Quoted column names, in table order. */
  names: string[];
  /** True for the binary columns, whose hex goes through UNHEX(). */
  hex: boolean[];
  /** True for the AUTO_INCREMENT column. */
  autoIncrement: boolean[];
}

/** The table's columns when every one dumps as a value LOAD DATA can take; undefined otherwise. */
export function loadColumns(create: string, table: string): LoadColumns | undefined {
  const lines = create.split('\n');
  const header = `CREATE TABLE ${quoteIdent(table)} (`;
  const start = lines.findIndex((l) => l === header);
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && l.startsWith(')'));
  if (end < 0 || /WITH SYSTEM VERSIONING/i.test(lines[end]!)) return undefined;
  const result: LoadColumns = { names: [], hex: [], autoIncrement: [] };
  for (const line of lines.slice(start + 1, end)) {
    const column = /^ {2}(`(?:[^`]|``)+`) (.*)$/.exec(line);
    if (!column) continue;
    const definition = column[2]!;
    const attributes = definition.replace(COMMENT, '');
    const hex = BINARY_TYPE.test(definition);
    if ((!hex && !PLAIN_TYPE.test(definition)) || SPECIAL_COLUMN.test(attributes)) return undefined;
    result.names.push(column[1]!);
    result.hex.push(hex);
    result.autoIncrement.push(/\bAUTO_INCREMENT\b/.test(attributes));
  }
  return result.names.length > 0 ? result : undefined;
}

/** LOAD DATA for the TSV RowsToTsv writes; binary columns go through a variable and UNHEX(). */
export function loadStatement(fifoPath: string, quotedTable: string, charset: string, columns: LoadColumns, marker?: string): string {
  let statement = `LOAD DATA LOCAL INFILE ${sqlString(fifoPath)} INTO TABLE ${quotedTable} CHARACTER SET ${charset} FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'`;
  if (columns.hex.some(Boolean)) {
    // Surprising, and tested: with a column list MariaDB 10.11 ignores NO_AUTO_VALUE_ON_ZERO
    // for an AUTO_INCREMENT column loaded directly (a dumped id 0 became 1); through a
    // variable and SET it keeps 0, as the INSERTs would.
    const viaVariable = (i: number): boolean => columns.hex[i] === true || columns.autoIncrement[i] === true;
    const targets = columns.names.map((name, i) => (viaVariable(i) ? `@c${i}` : name));
    const sets = columns.names.flatMap((name, i) => (columns.hex[i] ? [`${name} = UNHEX(@c${i})`] : columns.autoIncrement[i] ? [`${name} = @c${i}`] : []));
    statement += ` (${targets.join(', ')}) SET ${sets.join(', ')}`;
  }
  // The client keeps comments (--comments): the server's process list shows the marker.
  if (marker !== undefined) statement += ` /* ${marker} */`;
  return `${statement};\n`;
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The client exited before it opened the FIFO: its own error tells why. */
export class ClientGoneError extends OperationError {}

/** The server ended the LOAD DATA (its connection was killed, or the server restarted) while we were sending rows. */
class LoadEndedByServerError extends OperationError {}

/** Whether a statement carrying `marker` still runs on the target; undefined when that cannot be told. */
export type StatementProbe = (marker: string) => Promise<boolean | undefined>;

/**
 * The writing end of a FIFO a client is about to read a LOAD DATA LOCAL INFILE from,
 * driven like a child's stdin (a non-blocking pipe in the event loop): measured against
 * fs writes through the thread pool, the 1 GB restore went from 47 to 40 s. The writes
 * still cost the main thread ~3.7 s per GB (profiled): the client reads the FIFO 4 KiB
 * at a time, and each read wakes us for the next few KiB.
 */
class FifoWriter {
  private failure: Error | undefined;
  /** Asked every STALL_CHECK_MS while a write waits on the reader; an Error it returns fails the write. */
  onStall: (() => Promise<Error | undefined>) | undefined;

  private constructor(
    private readonly socket: Socket,
    private anchor: number,
  ) {
    socket.on('error', (err) => (this.failure ??= err));
  }

  /**
   * Both ends, non-blocking, before the client is told to read: the anchor (a read end)
   * first, so the write end opens at once; then the FIFO's name is removed. `clientPath` is
   * what the client opens (see the top of this file).
   */
  static open(path: string, clientGone: Promise<void> | undefined): FifoWriter {
    const anchor = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      closeSync(anchor);
      throw err;
    }
    unlinkSync(path);
    const writer = new FifoWriter(new Socket({ fd, readable: false, writable: true }), anchor);
    void clientGone?.then(() => {
      writer.failure ??= new ClientGoneError('the mysql client exited while its LOAD DATA rows were being sent');
      writer.socket.destroy();
    });
    return writer;
  }

  get clientPath(): string {
    return `/proc/${process.pid}/fd/${this.anchor}`;
  }

  /** Whether process `pid` (the client, never us: we hold the FIFO too) holds a descriptor of it. */
  isOpenedBy(pid: number): boolean {
    if (this.anchor < 0) return true;
    const fifo = fstatSync(this.anchor);
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return false;
    }
    return fds.some((fd) => {
      try {
        const st = statSync(`/proc/${pid}/fd/${fd}`);
        return st.ino === fifo.ino && st.dev === fifo.dev;
      } catch {
        return false; // closed meanwhile
      }
    });
  }

  /** Resolves once process `pid` holds a descriptor of this FIFO, or has exited. */
  private async openedBy(pid: number, exited: () => boolean): Promise<void> {
    while (!this.isOpenedBy(pid) && !exited()) await delay(2);
  }

  /** Close the anchor: only once the client's LOAD DATA has finished (it opens the FIFO through it). */
  release(): void {
    if (this.anchor < 0) return;
    closeSync(this.anchor);
    this.anchor = -1;
  }

  /** Resolves once the data is handed over (it may be reused then), honouring backpressure. */
  async write(buf: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    // The caller reuses `buf`, and the socket may hold it until written: hand over a copy.
    if (!this.socket.write(Buffer.from(buf))) {
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const done = (err?: Error): void => {
          clearTimeout(timer);
          timer = undefined;
          this.socket.off('drain', done);
          this.socket.off('error', done);
          this.socket.off('close', done);
          if (err instanceof Error) reject(err);
          else if (this.failure) reject(this.failure);
          else resolve();
        };
        const check = (): void => {
          const again = (): void => {
            if (timer !== undefined) timer = setTimeout(check, STALL_CHECK_MS);
          };
          void this.onStall?.().then((err) => {
            if (timer === undefined) return; // settled meanwhile
            if (!err) return again();
            this.failure ??= err;
            done(err);
            this.socket.destroy();
          }, again);
        };
        if (this.onStall) timer = setTimeout(check, STALL_CHECK_MS);
        this.socket.on('drain', done);
        this.socket.on('error', done);
        this.socket.on('close', done);
      });
    }
  }

  /**
   * Close the write end, the client's end-of-file. Not before the client has the FIFO open:
   * a FIFO's open waits for a writer, however many rows wait in it, so a small table's rows
   * all buffered and our end closed first left the client waiting in open().
   */
  async close(client: { pid?: number; hasExited(): boolean }): Promise<void> {
    if (client.pid !== undefined && !this.socket.destroyed) await this.openedBy(client.pid, () => client.hasExited());
    // The client may have exited meanwhile (its LOAD DATA refused) and the socket been closed
    // for it: its 'close' is then already past, and waiting for it would wait on nothing.
    if (!this.socket.destroyed) {
      await new Promise<void>((resolve) => {
        this.socket.once('close', () => resolve());
        this.socket.end();
      });
    }
    if (this.failure) throw this.failure;
  }

  destroy(): void {
    this.socket.destroy();
    this.release();
  }
}

export interface SqlSink {
  write(data: Buffer | string): Promise<void>;
  /** True once the client process has exited (for whatever reason). */
  hasExited(): boolean;
  /** Settles once the client process has exited. */
  gone?(): Promise<void>;
  /** The client's process id: the FIFO's write end stays open until it has opened the FIFO. */
  readonly pid?: number;
}

/**
 * Routes one table part: SQL to the client, the data section's rows into a FIFO the
 * client reads through LOAD DATA. Feed every chunk to `write`, then call `end`.
 */
export class LoadDataRouter {
  private head: Buffer[] = [];
  private headBytes = 0;
  private carry: Buffer = Buffer.alloc(0);
  private rows: RowsToTsv | undefined;
  private fifo: FifoWriter | undefined;
  /** FIFOs whose anchors stay open until the client finished (release()). */
  private opened: FifoWriter[] = [];
  private done = false;
  /** The bytes written so far ended inside a line (a chunk's start is then no line start). */
  private midLine = false;
  /** Tables loaded by LOAD DATA, with their row counts (for logs and tests). */
  loaded: Array<{ table: string; rows: number }> = [];

  constructor(
    private readonly sql: SqlSink,
    private readonly fifoPath: string,
    /** Asks the target whether the running LOAD DATA is still there (see the top of this file). */
    private readonly statementRuns?: StatementProbe,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    let buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = Buffer.alloc(0);
    let from = 0;
    while (from < buf.length) {
      if (this.rows) {
        const r = this.rows.push(buf, from);
        if (r.tsv.length) await this.fifo!.write(r.tsv);
        if (r.needMore) {
          this.carry = Buffer.from(buf.subarray(r.consumed));
          return;
        }
        from = r.consumed;
        if (r.ended) await this.finishRows();
        continue;
      }
      if (this.done) {
        await this.sql.write(from ? buf.subarray(from) : buf);
        return;
      }
      // SQL before the data: look for a line starting the table's INSERTs.
      const at = findInsertLine(buf, from, from === 0 && !this.midLine);
      if (at.index < 0) {
        this.remember(buf.subarray(from, at.keepFrom));
        if (at.keepFrom > from) {
          await this.sql.write(buf.subarray(from, at.keepFrom));
          this.midLine = buf[at.keepFrom - 1] !== 0x0a;
        }
        this.carry = Buffer.from(buf.subarray(at.keepFrom));
        return;
      }
      this.remember(buf.subarray(from, at.index));
      if (at.index > from) await this.sql.write(buf.subarray(from, at.index));
      const prefixEnd = await this.startRows(buf, at.index);
      if (prefixEnd === NEED_MORE) {
        this.midLine = false;
        this.carry = Buffer.from(buf.subarray(at.index));
        return;
      }
      if (prefixEnd < 0) {
        // Not a data section we load: the statement goes to the client as it is.
        this.done = true;
        buf = buf.subarray(at.index);
        from = 0;
        continue;
      }
      from = prefixEnd;
    }
  }

  async end(): Promise<void> {
    if (this.rows) {
      if (this.carry.length || !this.rows.atStatementEnd) throw new OperationError('the part ended inside its rows: the dump is truncated');
      await this.finishRows();
    }
    if (this.carry.length) await this.sql.write(this.carry);
    this.carry = Buffer.alloc(0);
  }

  /** Close the FIFO (after a failure elsewhere) so nothing stays open. */
  destroy(): void {
    this.fifo?.destroy();
    this.fifo = undefined;
    this.release();
  }

  /** Once the client has run everything: the FIFOs' anchors can go. */
  release(): void {
    for (const f of this.opened.splice(0)) f.release();
  }

  private remember(slice: Buffer): void {
    if (this.headBytes >= CREATE_LIMIT || slice.length === 0) return;
    this.head.push(Buffer.from(slice));
    this.headBytes += slice.length;
  }

  /** Start LOAD DATA when the INSERT at `index` is one we can convert; returns where its rows start, -1, or NEED_MORE. */
  private async startRows(buf: Buffer, index: number): Promise<number> {
    const line = buf.toString('latin1', index, Math.min(buf.length, index + 600));
    const m = /^INSERT INTO `((?:[^`]|``)+)` VALUES[ \n]/.exec(line);
    // A statement start cut by the chunk's end: decide when the rest of its line is here.
    if (!m) return buf.indexOf(0x0a, index) < 0 && buf.length - index < 600 ? NEED_MORE : -1;
    const table = m[1]!.replace(/``/g, '`');
    const head = Buffer.concat(this.head).toString('utf8');
    this.head = [];
    const columns = loadColumns(head, table);
    if (columns === undefined) return -1;
    const charset = /SET NAMES (\w+)/.exec(head)?.[1] ?? 'utf8mb4';
    const prefix = Buffer.from(m[0].slice(0, -1), 'latin1');
    const marker = `dbops-load ${randomBytes(8).toString('hex')}`;
    this.fifo = FifoWriter.open(this.fifoPath, this.sql.gone?.());
    this.opened.push(this.fifo);
    await this.sql.write(loadStatement(this.fifo.clientPath, quoteIdent(table), charset, columns, marker));
    const probe = this.statementRuns;
    if (probe) {
      const fifo = this.fifo;
      const pid = this.sql.pid;
      // Rows wait in the pipe while the client still runs the statements before its LOAD DATA
      // (a DROP TABLE waiting for a lock): no stall until it has opened the FIFO.
      this.fifo.onStall = async () =>
        (pid === undefined || fifo.isOpenedBy(pid)) && (await probe(marker)) === false && !this.sql.hasExited()
          ? new LoadEndedByServerError(`the server ended the mysql client's LOAD DATA of ${quoteIdent(table)} while its rows were being sent (its connection was killed, or the server restarted); run the restore again`)
          : undefined;
    }
    this.rows = new RowsToTsv(prefix, columns.hex);
    this.loaded.push({ table, rows: 0 });
    return index + prefix.length;
  }

  private async finishRows(): Promise<void> {
    this.loaded[this.loaded.length - 1]!.rows = this.rows!.rows;
    this.rows = undefined;
    this.done = true;
    const fifo = this.fifo!;
    this.fifo = undefined;
    await fifo.close(this.sql);
  }
}

/**
 * Index of a line starting "INSERT INTO `" at or after `from` (or -1), and, when none,
 * where the bytes to hold back start: a last, unfinished line that may still become one.
 */
function findInsertLine(buf: Buffer, from: number, startsLine: boolean): { index: number; keepFrom: number } {
  const needle = 'INSERT INTO `';
  let i = from;
  for (;;) {
    const hit = buf.indexOf(needle, i, 'latin1');
    if (hit < 0) break;
    if ((hit === from && startsLine) || (hit > from && buf[hit - 1] === 0x0a)) return { index: hit, keepFrom: hit };
    i = hit + 1;
  }
  const lastNl = buf.lastIndexOf(0x0a);
  if (lastNl < from && !startsLine) return { index: -1, keepFrom: buf.length };
  const lineStart = lastNl < from ? from : lastNl + 1;
  const tail = buf.toString('latin1', lineStart, Math.min(buf.length, lineStart + needle.length));
  return { index: -1, keepFrom: needle.startsWith(tail) && buf.length - lineStart < needle.length ? lineStart : buf.length };
}

/** A FIFO in `dir` for one table's rows (mkfifo: Node has no call for it). */
export async function makeFifo(dir: string, name: string): Promise<string> {
  const path = join(dir, `${name}.fifo`);
  await execa('mkfifo', ['-m', '600', path]);
  return path;
}

