// What the replayed byte range of a chain holds that decides whether the server's own
// replication may apply it (relay-replay.ts) instead of the one-session decoder pipeline:
// the server ids of its events (a target with the same server_id would silently skip
// them), and whether it changes accounts (statements and privilege-table rows the session
// path filters out unless --accounts; replication cannot leave them out exactly). A header
// walk that reads only Query and Table_map bodies: no decode, no child process.
import { open } from 'node:fs/promises';
import { EventType } from '../binlog/event-scan.js';
import { OperationError } from '../errors.js';
import { isAccountStatement, PRIVILEGE_TABLES } from './scope-filter.js';

const HEADER = 19;
const CHUNK = 1 << 20;

export interface RangeAudit {
  /** server_id of every event in the range. */
  serverIds: Set<number>;
  /** Account statements (first few, for the message) and rows written to privilege tables. */
  accountChanges: string[];
  /** Statements whose text cannot be read without a decode (MariaDB compressed Query events). */
  unreadableStatements: number;
}

export function emptyAudit(): RangeAudit {
  return { serverIds: new Set(), accountChanges: [], unreadableStatements: 0 };
}

/** Adds what bytes [from, to) of the local binlog at `path` hold to `audit`. */
export async function auditRange(path: string, file: string, from: number, to: number, audit: RangeAudit): Promise<RangeAudit> {
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let bufStart = 0;
    const at = async (pos: number, n: number): Promise<Buffer> => {
      if (pos < bufStart || pos + n > bufStart + buf.length) {
        const len = Math.max(CHUNK, n);
        buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        buf = buf.subarray(0, bytesRead);
        bufStart = pos;
      }
      return buf.subarray(pos - bufStart, pos - bufStart + n);
    };
    let checksum = 0;
    // The format description (at 4) says whether events end in a 4-byte checksum.
    const fd = await at(4, HEADER);
    if (fd.length === HEADER && fd.readUInt8(4) === EventType.FORMAT_DESCRIPTION) {
      const body = (await at(4, fd.readUInt32LE(9))).subarray(HEADER);
      if (body.length >= 5 && body.readUInt8(body.length - 5) === 1) checksum = 4;
    }
    let pos = from;
    while (pos + HEADER <= to) {
      const h = await at(pos, HEADER);
      if (h.length < HEADER) break;
      const type = h.readUInt8(4);
      const size = h.readUInt32LE(9);
      if (size < HEADER) throw new OperationError(`${file}: impossible event size ${size} at position ${pos}: the binlog is damaged`);
      audit.serverIds.add(h.readUInt32LE(5));
      if (type === EventType.QUERY) {
        // thread_id (4), exec_time (4), db length (1), error code (2), status vars length (2), status vars, db NUL, query.
        const b = (await at(pos, size)).subarray(HEADER, size - checksum);
        const start = 13 + b.readUInt16LE(11) + b.readUInt8(8) + 1;
        const text = b.subarray(start).toString('utf8');
        if (isAccountStatement(text) && audit.accountChanges.length < 5) audit.accountChanges.push(text.replace(/\s+/g, ' ').slice(0, 80));
      } else if (type === EventType.MARIADB_QUERY_COMPRESSED) {
        audit.unreadableStatements++;
      } else if (type === EventType.TABLE_MAP) {
        const b = (await at(pos, size)).subarray(HEADER);
        const dbLen = b.readUInt8(8);
        const db = b.subarray(9, 9 + dbLen).toString('utf8');
        const table = b.subarray(11 + dbLen, 11 + dbLen + b.readUInt8(9 + dbLen + 1)).toString('utf8');
        if (db.toLowerCase() === 'mysql' && PRIVILEGE_TABLES.has(table.toLowerCase()) && audit.accountChanges.length < 5) audit.accountChanges.push(`rows of mysql.${table}`);
      }
      pos += size;
    }
    return audit;
  } finally {
    await fh.close();
  }
}
