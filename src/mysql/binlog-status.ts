// The server's current binlog coordinates and binlog list, for both flavours.
// MySQL returns the GTID set in the status row (Executed_Gtid_Set); MariaDB's
// row has none, so its GTID position is read with a second statement.
import { OperationError } from '../errors.js';
import type { FlavorProfile } from './flavor.js';
import type { Queryable } from './server-info.js';

export interface BinlogStatus {
  file: string;
  position: number;
  /** MySQL: uuid:1-5,uuid2:1-3 (whitespace removed). MariaDB: domain-server-seq list. */
  gtidSet?: string;
}

export interface BinaryLogEntry {
  file: string;
  size: number;
  encrypted?: boolean;
}

/** Normalises a GTID set: MySQL prints one uuid per line. Empty → undefined. */
export function normalizeGtidSet(raw: string | null | undefined): string | undefined {
  const s = (raw ?? '').replace(/\s+/g, '');
  return s || undefined;
}

function toNumber(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number(String(v ?? ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new OperationError(`unexpected ${what} "${String(v)}" from the server`);
  return n;
}

/** Parses a SHOW MASTER STATUS / SHOW BINARY LOG STATUS / SHOW BINLOG STATUS row. */
export function parseBinlogStatus(row: Record<string, unknown> | undefined, mariadbGtidPos?: string | null): BinlogStatus {
  if (!row || row.File === undefined || row.File === null || row.File === '') {
    throw new OperationError('binary logging is disabled on the source (no binlog status): start the server with log_bin enabled');
  }
  const status: BinlogStatus = { file: String(row.File), position: toNumber(row.Position, 'binlog position') };
  const gtid = normalizeGtidSet(
    (row.Executed_Gtid_Set as string | null | undefined) ?? mariadbGtidPos ?? undefined,
  );
  if (gtid) status.gtidSet = gtid;
  return status;
}

/** Parses SHOW BINARY LOGS rows (Log_name, File_size[, Encrypted]). */
export function parseBinaryLogs(rows: Record<string, unknown>[]): BinaryLogEntry[] {
  return rows.map((r) => {
    const entry: BinaryLogEntry = { file: String(r.Log_name), size: toNumber(r.File_size, 'binlog size') };
    if (r.Encrypted !== undefined) entry.encrypted = String(r.Encrypted).toLowerCase() === 'yes';
    return entry;
  });
}

export async function readBinlogStatus(db: Queryable, profile: FlavorProfile): Promise<BinlogStatus> {
  const rows = await db.query<Record<string, unknown>>(profile.binlogStatusSql);
  let gtid: string | undefined;
  if (profile.gtidPositionSql) {
    const g = await db.query<{ gtid: string | null }>(profile.gtidPositionSql);
    gtid = g[0]?.gtid ?? undefined;
  }
  return parseBinlogStatus(rows[0], gtid);
}

export async function listBinaryLogs(db: Queryable, profile: FlavorProfile): Promise<BinaryLogEntry[]> {
  try {
    return parseBinaryLogs(await db.query<Record<string, unknown>>(profile.binaryLogsSql));
  } catch (err) {
    if ((err as { errno?: number }).errno === 1381) {
      throw new OperationError('binary logging is disabled on the source: start the server with log_bin enabled', { cause: err });
    }
    throw err;
  }
}

/**
 * Reads the consistent point a dump recorded in its header comments. Accepts
 * `CHANGE MASTER TO MASTER_LOG_FILE=…, MASTER_LOG_POS=…` (MariaDB, MySQL < 8.0.23
 * servers) and `CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE=…, SOURCE_LOG_POS=…`
 * (newer MySQL); GTID from MariaDB's `SET GLOBAL gtid_slave_pos='…'` or MySQL's
 * `SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*\/ '…'` or, with --set-gtid-purged=COMMENTED,
 * `/* SET @@GLOBAL.GTID_PURGED='+…';*\/`.
 */
export function parseDumpCoordinates(header: string): BinlogStatus | undefined {
  const pos = /(?:MASTER|SOURCE)_LOG_FILE\s*=\s*'([^']+)'\s*,\s*(?:MASTER|SOURCE)_LOG_POS\s*=\s*(\d+)/i.exec(header);
  if (!pos) return undefined;
  const status: BinlogStatus = { file: pos[1]!, position: Number(pos[2]) };
  const maria = /gtid_slave_pos\s*=\s*'([^']*)'/i.exec(header);
  const mysql = /GTID_PURGED\s*=\s*(?:\/\*!\d+\s*'\+'\s*\*\/\s*)?'([^']*)'/i.exec(header);
  const raw = maria?.[1] ?? mysql?.[1];
  // COMMENTED mode writes `/* SET @@GLOBAL.GTID_PURGED='+<set>';*/`: the '+' is inside the quotes.
  const gtid = normalizeGtidSet(raw?.replace(/--/g, '').replace(/^\s*\+/, ''));
  if (gtid) status.gtidSet = gtid;
  return status;
}
