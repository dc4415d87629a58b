// Reads a binlog file's event headers (v4 format: 19-byte common header, every event
// says its own size) to learn what a segment covers: event times, end position, GTIDs,
// transaction count, whether the file ends cleanly, and which tables its row events
// touch how (an index that lets `binlog find` skip files without decoding them). This is a header walk in one
// sequential pass with a 1 MiB window, not a decode: timestamps come out as exact UTC
// seconds (mariadb-binlog prints them in its local time zone without an offset) and a
// 1 GiB file costs one read of the file and no child process.
import { open, type FileHandle } from 'node:fs/promises';
import { OperationError } from '../errors.js';
import { uuidOf, mariadbGtidList, mysqlPreviousGtids } from './gtid-events.js';

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;
const WINDOW = 1 << 20;

/** Event type codes (shared by both flavours up to 35; 160+ are MariaDB's). */
export const EventType = {
  QUERY: 2,
  STOP: 3,
  TABLE_MAP: 19,
  ROTATE: 4,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  MYSQL_GTID: 33,
  MYSQL_ANONYMOUS_GTID: 34,
  MYSQL_PREVIOUS_GTIDS: 35,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
  MARIADB_QUERY_COMPRESSED: 165,
} as const;

type RowKind = 'insert' | 'update' | 'delete';

/** Row event types of both flavours (v0 of 5.1 betas, v1, v2, MySQL partial update, MariaDB compressed) by what they do. */
const ROW_EVENTS = new Map<number, RowKind>([
  [20, 'insert'], [21, 'update'], [22, 'delete'],
  [23, 'insert'], [24, 'update'], [25, 'delete'],
  [30, 'insert'], [31, 'update'], [32, 'delete'],
  [39, 'update'],
  [166, 'insert'], [167, 'update'], [168, 'delete'],
  [169, 'insert'], [170, 'update'], [171, 'delete'],
]);

/** Statements that only frame a transaction: they change nothing a search looks for. */
const FRAMING = /^\s*(BEGIN|COMMIT|ROLLBACK|XA\s|SAVEPOINT|RELEASE\s+SAVEPOINT)/i;

/** What a file's row events and statements touch (an index for `binlog find`, signed with the segment). */
export interface SegmentContent {
  /** `db.table` → row events (not rows) by kind. */
  tables: Record<string, { insert: number; update: number; delete: number }>;
  /** Statements other than BEGIN/COMMIT/XA…: DDL or statement-format DML, which only a decode can tell apart. */
  statements: number;
  /** Row events whose table map was not seen: a file with any is always decoded. */
  unmappedRowEvents: number;
}

export interface BinlogScan {
  /** Bytes of the file. */
  size: number;
  /** Position after the last complete event (= size when the file ends cleanly). */
  endPosition: number;
  /** Bytes after the last complete event (a file being written, or a torn copy). */
  partialBytes: number;
  /**
   * Position after the last complete transaction (= endPosition when none is open): a
   * prefix of the file up to here holds whole transactions only, which is where partial
   * segments end.
   */
  committedPosition: number;
  events: number;
  /** GTID events (MariaDB GTID / MySQL GTID or anonymous GTID): one per transaction. */
  transactions: number;
  firstEventTime: Date | null;
  lastEventTime: Date | null;
  firstTransactionTime: Date | null;
  lastTransactionTime: Date | null;
  /** server_id in the format description event: the server that wrote the file. */
  originServerId: number | null;
  /** MariaDB: GTID list event (binlog state at file start). MySQL: Previous_gtids. */
  gtidAtStart: string | null;
  firstGtid: string | null;
  lastGtid: string | null;
  /** MariaDB: the start state advanced by every GTID in the file (per domain). MySQL: null. */
  gtidAtEnd: string | null;
  /** Type of the last complete event (ROTATE or STOP for a file the server closed). */
  lastEventType: number | null;
  /** Target of a final Rotate event. */
  rotatesTo: string | null;
  content: SegmentContent;
}

/** Scan a file (or its first `until` bytes). Throws OperationError when it is not a binlog or an event header is impossible. */
export async function scanBinlogFile(path: string, until?: number): Promise<BinlogScan> {
  const fh = await open(path, 'r');
  try {
    return await scan(fh, path, until);
  } finally {
    await fh.close();
  }
}

class Window {
  buf = Buffer.alloc(0);
  start = 0;
  constructor(private readonly fh: FileHandle, private readonly size: number) {}
  /** A view of [pos, pos+n) (n ≤ WINDOW), reading from disk when it is not in the window. */
  async at(pos: number, n: number): Promise<Buffer> {
    if (pos < this.start || pos + n > this.start + this.buf.length) {
      const len = Math.min(Math.max(WINDOW, n), this.size - pos);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await this.fh.read(buf, 0, len, pos);
      this.buf = buf.subarray(0, bytesRead);
      this.start = pos;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }
}


/** MariaDB GTID event flag: a single statement without BEGIN/COMMIT (DDL). */
const FL_STANDALONE = 1;
const XA_PREPARE = 38;

async function scan(fh: FileHandle, path: string, until?: number): Promise<BinlogScan> {
  const size = Math.min((await fh.stat()).size, until ?? Infinity);
  const win = new Window(fh, size);
  if (size < 4 || !(await win.at(0, 4)).equals(MAGIC)) {
    throw new OperationError(`${path} is not a binlog file (no \\xfebin magic): remove it from the spool directory`);
  }
  const out: BinlogScan = {
    size,
    endPosition: 4,
    partialBytes: 0,
    committedPosition: 4,
    events: 0,
    transactions: 0,
    firstEventTime: null,
    lastEventTime: null,
    firstTransactionTime: null,
    lastTransactionTime: null,
    originServerId: null,
    gtidAtStart: null,
    firstGtid: null,
    lastGtid: null,
    gtidAtEnd: null,
    lastEventType: null,
    rotatesTo: null,
    content: { tables: {}, statements: 0, unmappedRowEvents: 0 },
  };
  const tableIds = new Map<number, string>();
  const mariaState = new Map<number, string>();
  let sawMariaList = false;
  let checksumBytes = 0;
  // The open transaction: where it started, whether it ends with its first statement (DDL).
  let open: { start: number; standalone: boolean | null } | null = null;
  let pos = 4;
  while (pos + HEADER <= size) {
    const h = await win.at(pos, HEADER);
    const time = new Date(h.readUInt32LE(0) * 1000);
    const type = h.readUInt8(4);
    const serverId = h.readUInt32LE(5);
    const eventSize = h.readUInt32LE(9);
    if (eventSize < HEADER) throw new OperationError(`${path}: impossible event size ${eventSize} at position ${pos}: the file is damaged`);
    if (pos + eventSize > size) break;
    // Bodies are read only for the few event types we decode; they are small.
    const body = async (): Promise<Buffer> => (await win.at(pos, Math.min(eventSize, WINDOW))).subarray(HEADER);
    out.events++;
    out.firstEventTime ??= time;
    out.lastEventTime = time;
    out.lastEventType = type;
    out.rotatesTo = null;
    switch (type) {
      case EventType.FORMAT_DESCRIPTION: {
        out.originServerId ??= serverId;
        // Since 5.6 / 10.0 the description ends with the checksum algorithm byte and a 4-byte checksum.
        const b = await body();
        if (b.length >= 5) checksumBytes = b.readUInt8(b.length - 5) === 1 ? 4 : 0;
        break;
      }
      case EventType.MARIADB_GTID_LIST: {
        const b = await body();
        const list = mariadbGtidList(b);
        if (!sawMariaList) for (const gtid of list) mariaState.set(Number(gtid.split('-')[0]), gtid);
        if (!sawMariaList) out.gtidAtStart = list.join(',');
        sawMariaList = true;
        break;
      }
      case EventType.MARIADB_GTID: {
        const b = await body();
        open = { start: pos, standalone: (b.readUInt8(12) & FL_STANDALONE) !== 0 };
        const domain = b.readUInt32LE(8);
        const gtid = `${domain}-${serverId}-${b.readBigUInt64LE(0)}`;
        mariaState.set(domain, gtid);
        noteTransaction(out, time, gtid);
        break;
      }
      case EventType.MYSQL_GTID: {
        const b = await body();
        open = { start: pos, standalone: null };
        noteTransaction(out, time, `${uuidOf(b.subarray(1, 17))}:${b.readBigInt64LE(17)}`);
        break;
      }
      case EventType.MYSQL_ANONYMOUS_GTID:
        open = { start: pos, standalone: null };
        noteTransaction(out, time, null);
        break;
      case EventType.XID:
      case XA_PREPARE:
        open = null;
        break;
      case EventType.MYSQL_PREVIOUS_GTIDS: {
        const b = await body();
        out.gtidAtStart = mysqlPreviousGtids(b);
        break;
      }
      case EventType.ROTATE: {
        const b = await body();
        // position (8), the next file's name, then the checksum when there is one.
        out.rotatesTo = b.subarray(8, b.length - checksumBytes).toString('latin1') || null;
        break;
      }
      case EventType.TABLE_MAP: {
        // table_id (6), flags (2), then length-prefixed, NUL-ended database and table names.
        const b = await body();
        const dbLen = b.readUInt8(8);
        const tblLen = b.readUInt8(9 + dbLen + 1);
        const db = b.subarray(9, 9 + dbLen).toString('utf8');
        const table = b.subarray(11 + dbLen, 11 + dbLen + tblLen).toString('utf8');
        tableIds.set(b.readUIntLE(0, 6), `${db}.${table}`);
        break;
      }
      case EventType.QUERY: {
        // thread_id (4), exec_time (4), db length (1), error code (2), status vars length (2), status vars, db NUL, query.
        const b = await body();
        const start = 13 + b.readUInt16LE(11) + b.readUInt8(8) + 1;
        const head = b.subarray(start, Math.min(b.length, start + 32)).toString('latin1');
        if (!FRAMING.test(head)) out.content.statements++;
        if (open) {
          // MySQL says with its first statement whether the transaction has a BEGIN.
          if (open.standalone === null) open.standalone = !/^\s*BEGIN\b/i.test(head);
          else if (open.standalone || /^\s*(COMMIT|ROLLBACK)\b/i.test(head)) open = null;
          if (open?.standalone) open = null;
        }
        break;
      }
      case EventType.MARIADB_QUERY_COMPRESSED:
      case 6: // LOAD (statement-format LOAD DATA and its blocks, old and new)
      case 7:
      case 8:
      case 10:
      case 17:
      case 18:
        out.content.statements++;
        break;
      case 40: // MySQL TRANSACTION_PAYLOAD: compressed row events, tables unknown without a decode
        out.content.unmappedRowEvents++;
        break;
      default: {
        const kind = ROW_EVENTS.get(type);
        if (!kind) break;
        const table = tableIds.get((await body()).readUIntLE(0, 6));
        if (!table) {
          out.content.unmappedRowEvents++;
          break;
        }
        const counts = (out.content.tables[table] ??= { insert: 0, update: 0, delete: 0 });
        counts[kind]++;
        break;
      }
    }
    pos += eventSize;
    if (!open) out.committedPosition = pos;
  }
  out.endPosition = pos;
  out.partialBytes = size - pos;
  if (sawMariaList) out.gtidAtEnd = [...mariaState.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g).join(',');
  return out;
}

function noteTransaction(out: BinlogScan, time: Date, gtid: string | null): void {
  out.transactions++;
  out.firstTransactionTime ??= time;
  out.lastTransactionTime = time;
  if (gtid) {
    out.firstGtid ??= gtid;
    out.lastGtid = gtid;
  }
}

/** True when the server closed the file itself (Rotate or Stop as the last complete event). */
export function endsWithCloseEvent(scan: BinlogScan): boolean {
  return scan.partialBytes === 0 && (scan.lastEventType === EventType.ROTATE || scan.lastEventType === EventType.STOP);
}
