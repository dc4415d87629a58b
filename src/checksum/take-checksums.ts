// Source checksums for content-equality restore tests: every table's content checksum
// and row count, taken inside ONE consistent snapshot whose binlog position is recorded.
// A restore test replays binlogs to exactly that position and must get the same values.
import type { MysqlConn } from '../mysql/connection-url.js';
import { withConnection, type MysqlClient } from '../mysql/client.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';
import { flavorProfile } from '../mysql/flavor.js';
import { tableContentChecksum } from '../verify/content-checksum.js';
import { OperationError, UsageError } from '../errors.js';
import { log } from '../util/logger.js';

export interface TableChecksum {
  rows: number;
  checksum: string;
  /** Non-transactional tables are not covered by the snapshot; their values may drift. */
  transactional: boolean;
}

export interface ChecksumSet {
  takenAt: string;
  source: { flavor: ServerInfo['flavor']; version: string; serverUuid: string };
  point: { binlogFile: string; binlogPosition: number; gtidSet: string | null };
  /** db → table → checksum */
  tables: Record<string, Record<string, TableChecksum>>;
  seconds: number;
}

const TRANSACTIONAL = new Set(['InnoDB', 'XtraDB', 'TokuDB', 'RocksDB', 'NDB', 'ndbcluster']);

/** Open a consistent snapshot and learn its binlog position, per flavour. */
async function snapshotPosition(db: MysqlClient, info: ServerInfo): Promise<{ file: string; position: number; gtid: string | null }> {
  await db.exec('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  if (info.flavor === 'mariadb') {
    // MariaDB reports the binlog position that matches the snapshot itself, no lock needed.
    await db.exec('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const rows = await db.query<{ Variable_name: string; Value: string }>("SHOW STATUS LIKE 'binlog_snapshot_%'");
    const file = rows.find((r) => r.Variable_name === 'Binlog_snapshot_file')?.Value;
    const pos = rows.find((r) => r.Variable_name === 'Binlog_snapshot_position')?.Value;
    if (!file) throw new UsageError('the source has binary logging off: source checksums need a binlog position (enable log_bin)');
    return { file, position: Number(pos), gtid: null };
  }
  // MySQL: the shortest global read lock that pins a position to the snapshot.
  await db.exec('FLUSH TABLES WITH READ LOCK');
  try {
    await db.exec('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const [status] = await db.query<Record<string, unknown>>(flavorProfile(info).binlogStatusSql);
    if (!status?.File) throw new UsageError('the source has binary logging off: source checksums need a binlog position (enable log_bin)');
    const gtid = typeof status.Executed_Gtid_Set === 'string' ? status.Executed_Gtid_Set.replace(/\s+/g, '') : null;
    return { file: String(status.File), position: Number(status.Position), gtid: gtid || null };
  } finally {
    await db.exec('UNLOCK TABLES');
  }
}

/**
 * Rotate the binlog when the point's file is still the active one: the shipper ships only
 * closed files, so on a quiet source the point would otherwise stay unshipped until the
 * next write, and a content restore test could never replay to it (issue: a false FAIL
 * every night). Without RELOAD the test still waits for the shipper's own rotation.
 */
async function closeBinlogFile(db: MysqlClient, info: ServerInfo, file: string): Promise<void> {
  const [status] = await db.query<Record<string, unknown>>(flavorProfile(info).binlogStatusSql);
  if (String(status?.File ?? '') !== file) return;
  try {
    await db.exec('FLUSH BINARY LOGS');
  } catch (err) {
    if ((err as { errno?: number }).errno !== 1227) throw err;
    log.warn({ file }, 'cannot rotate the binlog after taking checksums (the account lacks RELOAD): a content restore test waits for the shipper to rotate it (binlog.maxLagSeconds, and only once the source writes again); GRANT RELOAD to it');
  }
}

export async function takeChecksums(source: MysqlConn, databases: readonly string[]): Promise<ChecksumSet> {
  const started = performance.now();
  return withConnection(source, async (db) => {
    const info = await readServerInfo(db);
    const dbs = databases.length ? [...databases] : await db.listUserDatabases();
    const tables = await db.query<{ db: string; name: string; engine: string | null }>(
      "SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_SCHEMA, TABLE_NAME",
      [dbs],
    );
    const pos = await snapshotPosition(db, info);
    const out: ChecksumSet['tables'] = {};
    for (const d of dbs) out[d] = {};
    try {
      for (const t of tables) {
        const c = await tableContentChecksum(db.raw, t.db, t.name);
        out[t.db]![t.name] = { rows: c.rows, checksum: c.checksum, transactional: TRANSACTIONAL.has(t.engine ?? '') };
      }
      await db.exec('COMMIT');
    } catch (err) {
      await db.exec('ROLLBACK').catch(() => undefined);
      throw err instanceof OperationError || err instanceof UsageError ? err : new OperationError(`taking source checksums failed: ${(err as Error).message}`);
    }
    await closeBinlogFile(db, info, pos.file);
    const seconds = (performance.now() - started) / 1000;
    log.info({ tables: tables.length, point: `${pos.file}:${pos.position}`, seconds: Math.round(seconds * 10) / 10 }, 'source checksums taken');
    return {
      takenAt: new Date().toISOString(),
      source: { flavor: info.flavor, version: info.version, serverUuid: info.serverUuid },
      point: { binlogFile: pos.file, binlogPosition: pos.position, gtidSet: pos.gtid ?? (info.flavor === 'mariadb' ? (info.gtidExecuted ?? null) : null) },
      tables: out,
      seconds,
    };
  });
}

/** Checksums of the same tables on a restored server (no snapshot needed: nothing writes there). */
export async function checksumsOn(target: MysqlConn, tables: Record<string, Record<string, unknown>>): Promise<Record<string, Record<string, { rows: number; checksum: string } | { missing: true }>>> {
  return withConnection(target, async (db) => {
    const out: Record<string, Record<string, { rows: number; checksum: string } | { missing: true }>> = {};
    for (const [d, ts] of Object.entries(tables)) {
      out[d] = {};
      for (const t of Object.keys(ts)) {
        try {
          out[d]![t] = await tableContentChecksum(db.raw, d, t);
        } catch {
          out[d]![t] = { missing: true };
        }
      }
    }
    return out;
  });
}
