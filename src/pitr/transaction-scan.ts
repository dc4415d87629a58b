// Transaction boundaries of a binlog file, from event headers alone (no decode): where each
// transaction starts (its GTID event) and ends (after its last event), its GTID and the
// time of its last (commit) event. PITR stops only on these boundaries, so a replay never
// ends inside a transaction, and computes stop positions itself instead of trusting
// mariadb-binlog's --stop-datetime (local time zone, and it stops mid-transaction).
import { open } from 'node:fs/promises';
import { EventType } from '../binlog/event-scan.js';
import { uuidOf as uuid, mariadbGtidList, mysqlPreviousGtids } from '../binlog/gtid-events.js';
import { OperationError } from '../errors.js';
import type { Flavor } from '../mysql/server-info.js';
import { GtidState, type Gtid } from './gtid.js';

const HEADER = 19;
const CHUNK = 1 << 20;

/** Events that belong to no transaction (file framing, checkpoints). */
const META_EVENTS = new Set<number>([EventType.FORMAT_DESCRIPTION, EventType.ROTATE, EventType.STOP, EventType.MYSQL_PREVIOUS_GTIDS, EventType.MARIADB_GTID_LIST, 161 /* MariaDB binlog checkpoint */, 27 /* heartbeat */, 164 /* MariaDB start encryption */]);

export interface ScannedTransaction {
  /** Position of its GTID event: `--before` stops here. */
  start: number;
  /** Position after its last event: replay up to here includes it. */
  end: number;
  gtid: Gtid | null;
  /** Header time of its last event (commit), UTC. */
  time: Date;
}

export interface FileTransactions {
  file: string;
  flavor: Flavor;
  /** Position after the last complete event. */
  endPosition: number;
  /** GTID state when the file starts (MariaDB GTID list / MySQL Previous_gtids). */
  stateAtStart: string | null;
  transactions: ScannedTransaction[];
}

/** Walk a local binlog file's headers; `file` is the binlog name used in messages. */
export async function scanTransactions(path: string, file: string, flavor: Flavor): Promise<FileTransactions> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let buf = Buffer.alloc(0);
    let bufStart = 0;
    const at = async (pos: number, n: number): Promise<Buffer> => {
      if (pos < bufStart || pos + n > bufStart + buf.length) {
        const len = Math.min(Math.max(CHUNK, n), size - pos);
        buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        buf = buf.subarray(0, bytesRead);
        bufStart = pos;
      }
      return buf.subarray(pos - bufStart, pos - bufStart + n);
    };
    const out: FileTransactions = { file, flavor, endPosition: 4, stateAtStart: null, transactions: [] };
    let open_: ScannedTransaction | null = null;
    let pos = 4;
    while (pos + HEADER <= size) {
      const h = await at(pos, HEADER);
      const time = new Date(h.readUInt32LE(0) * 1000);
      const type = h.readUInt8(4);
      const serverId = h.readUInt32LE(5);
      const eventSize = h.readUInt32LE(9);
      if (eventSize < HEADER) throw new OperationError(`${file}: impossible event size ${eventSize} at position ${pos}: the binlog is damaged`);
      if (pos + eventSize > size) break;
      if (type === EventType.MARIADB_GTID || type === EventType.MYSQL_GTID || type === EventType.MYSQL_ANONYMOUS_GTID) {
        if (open_) out.transactions.push(open_);
        const body = (await at(pos, Math.min(eventSize, 64))).subarray(HEADER);
        let gtid: Gtid | null = null;
        if (type === EventType.MARIADB_GTID) gtid = { flavor: 'mariadb', domain: body.readUInt32LE(8), server: serverId, seq: body.readBigUInt64LE(0) };
        else if (type === EventType.MYSQL_GTID) gtid = { flavor: 'mysql', uuid: uuid(body.subarray(1, 17)), seq: body.readBigInt64LE(17) };
        open_ = { start: pos, end: pos + eventSize, gtid, time };
      } else if (META_EVENTS.has(type)) {
        if (open_) out.transactions.push(open_);
        open_ = null;
        if (type === EventType.MARIADB_GTID_LIST && out.stateAtStart === null) out.stateAtStart = mariadbGtidList((await at(pos, Math.min(eventSize, CHUNK))).subarray(HEADER)).join(',');
        if (type === EventType.MYSQL_PREVIOUS_GTIDS) out.stateAtStart = mysqlPreviousGtids((await at(pos, Math.min(eventSize, CHUNK))).subarray(HEADER));
      } else if (open_) {
        open_.end = pos + eventSize;
        open_.time = time;
      }
      pos += eventSize;
    }
    if (open_) out.transactions.push(open_);
    out.endPosition = pos;
    return out;
  } finally {
    await fh.close();
  }
}

/** GTID state at `position` of the file (every transaction ending at or before it applied). */
export function stateAt(ft: FileTransactions, position: number, start?: GtidState): GtidState {
  const s = start ? start.clone() : GtidState.parse(ft.flavor, ft.stateAtStart);
  for (const t of ft.transactions) if (t.end <= position && t.gtid) s.add(t.gtid);
  return s;
}

/** The transaction containing `position` (start ≤ position < end), if any. */
export function transactionAt(ft: FileTransactions, position: number): ScannedTransaction | undefined {
  return ft.transactions.find((t) => t.start <= position && position < t.end);
}

/** Positions that begin an event: `--before` must name one. */
export async function eventStarts(path: string): Promise<Set<number>> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const starts = new Set<number>();
    const h = Buffer.alloc(HEADER);
    let pos = 4;
    while (pos + HEADER <= size) {
      await fh.read(h, 0, HEADER, pos);
      const n = h.readUInt32LE(9);
      if (n < HEADER || pos + n > size) break;
      starts.add(pos);
      pos += n;
    }
    starts.add(pos);
    return starts;
  } finally {
    await fh.close();
  }
}
