// The largest tables get a mariadb-dump of their own that writes straight into zstd, so
// their bytes never pass through node (reading, splitting and re-writing one dump stream
// cost node ~10 core-seconds per GB on a 2-core host, a third of the backup's CPU).
//
// One backup must still be one point in time. While our connection blocks commits
// (MariaDB `BACKUP STAGE BLOCK_COMMIT`), every dump opens its snapshot; then commits
// resume. A table dump has opened its snapshot once the server shows it reading rows (its
// `SELECT /*!40001 SQL_NO_CACHE */ … FROM `t`` runs inside the snapshot) or once it
// exited well; the main dump has once its first bytes reach us (its header comes after
// its START TRANSACTION, in one buffer). The main dump's recorded binlog position must
// equal the one read under the block: that checks the whole scheme on every backup.
import type { MysqlClient } from '../mysql/client.js';
import { connect, MysqlQueryError } from '../mysql/client.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import type { ServerInfo } from '../mysql/server-info.js';
import { versionAtLeast } from '../mysql/flavor.js';
import { quoteIdent } from '../verify/quote-ident.js';
import { OperationError } from '../errors.js';
import { log } from '../util/logger.js';
import type { Coordinates } from '../dump/dump-markers.js';

export interface TableDump {
  database: string;
  table: string;
  /** information_schema's estimate of the table's data, for the log. */
  bytes: number;
}

/** A table is worth a process of its own from this size (smaller ones cost more in connections than they save). */
const MIN_TABLE_BYTES = 64 * 1024 * 1024;
/** Dump processes besides the main one: each adds a dump, a zstd and an age process on the host. */
const MAX_TABLE_DUMPS = 3;
/** Commits stay blocked while the dumps start; give up (and fail the backup) well before anyone notices. */
const SNAPSHOT_WAIT_MS = 30_000;
/** How long BACKUP STAGE may wait for running DDL or commits before we dump in one stream instead. */
const BLOCK_WAIT_SECONDS = 10;

/** The largest InnoDB tables, if the server can block commits (MariaDB ≥ 10.4.1: BACKUP STAGE). */
export async function pickTableDumps(db: MysqlClient, info: ServerInfo, databases: readonly string[]): Promise<TableDump[]> {
  if (info.flavor !== 'mariadb' || !versionAtLeast(info, 10, 4, 1) || databases.length === 0) return [];
  const rows = await db.query<{ database: string; table: string; bytes: number | string }>(
    `SELECT TABLE_SCHEMA AS \`database\`, TABLE_NAME AS \`table\`, DATA_LENGTH AS bytes
       FROM information_schema.TABLES
      WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE = 'BASE TABLE' AND ENGINE = 'InnoDB' AND DATA_LENGTH >= ?
      ORDER BY DATA_LENGTH DESC, TABLE_SCHEMA, TABLE_NAME
      LIMIT ?`,
    [databases, MIN_TABLE_BYTES, MAX_TABLE_DUMPS],
  );
  return rows.map((r) => ({ database: r.database, table: r.table, bytes: Number(r.bytes) }));
}

/** mariadb-dump flags for one table: the full backup's, without the database-wide sections. */
export function tableDumpArgs(fullBackupArgs: readonly string[], t: TableDump): string[] {
  const databaseWide = new Set(['--routines', '--events', '--databases']);
  const cut = fullBackupArgs.indexOf('--databases');
  const options = (cut >= 0 ? fullBackupArgs.slice(0, cut) : [...fullBackupArgs]).filter(
    (a) => !databaseWide.has(a) && !/^--(master-data|source-data|gtid|dump-slave|dump-replica|apply-slave-statements|include-master-host-port)\b/.test(a),
  );
  return [...options, t.database, t.table];
}

/** `--ignore-table` flags so the main dump leaves these tables to their own dumps. */
export function ignoreTableArgs(tables: readonly TableDump[]): string[] {
  return tables.map((t) => `--ignore-table=${t.database}.${t.table}`);
}

export interface StartedTableDump {
  table: TableDump;
  /** Settles when the dump process exits (rejects when it failed). */
  exited: Promise<unknown>;
}

/** Commits blocked on one connection of ours, with the binlog position they are blocked at. */
export class CommitBlock {
  private released = false;

  private constructor(
    private readonly db: MysqlClient,
    private readonly user: string,
    readonly connectionId: number,
    readonly coordinates: Coordinates,
    private readonly since: number,
  ) {}

  /** Block commits; undefined (and a log line saying why) when the server will not let us. */
  static async take(source: MysqlConn): Promise<CommitBlock | undefined> {
    const db = await connect(source);
    try {
      await db.exec(`SET SESSION lock_wait_timeout = ${BLOCK_WAIT_SECONDS}`);
      const [{ id }] = (await db.query<{ id: number }>('SELECT CONNECTION_ID() AS id')) as [{ id: number }];
      await db.exec('BACKUP STAGE START');
      await db.exec('BACKUP STAGE BLOCK_COMMIT');
      const since = Date.now();
      const status = await db.query<{ Variable_name: string; Value: string }>(`SHOW STATUS LIKE 'binlog_snapshot_%'`);
      const value = (name: string): string | undefined => status.find((r) => r.Variable_name.toLowerCase() === name)?.Value || undefined;
      const file = value('binlog_snapshot_file');
      const position = value('binlog_snapshot_position');
      const coordinates: Coordinates = file && position ? { binlogFile: file, binlogPosition: Number(position) } : {};
      return new CommitBlock(db, source.user, Number(id), coordinates, since);
    } catch (err) {
      await db.close();
      if (err instanceof MysqlQueryError && (err.code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR' || err.code === 'ER_LOCK_WAIT_TIMEOUT')) {
        log.warn(
          { reason: err.message },
          err.code === 'ER_LOCK_WAIT_TIMEOUT'
            ? 'commits could not be blocked within 10 s (long DDL or commit running): dumping in one stream'
            : 'the backup user may not block commits (BACKUP STAGE needs RELOAD): dumping in one stream; grant RELOAD to dump the largest tables in parallel',
        );
        return undefined;
      }
      throw err;
    }
  }

  /**
   * Resolves once every dump has opened its snapshot (see the top of this file); rejects when
   * one failed first or they took longer than SNAPSHOT_WAIT_MS.
   */
  async waitForSnapshots(tables: readonly StartedTableDump[], mainStarted: Promise<void>): Promise<void> {
    const pending = new Set(tables);
    let mainDone = false;
    for (const t of tables) t.exited.then(() => pending.delete(t), () => undefined);
    mainStarted.then(() => (mainDone = true), () => undefined);
    // A dump that fails before this wait ends fails the wait (its error is the backup's).
    const failed = Promise.race([...tables.map((t) => t.exited), mainStarted].map((p) => p.then(() => new Promise<never>(() => undefined))));
    failed.catch(() => undefined);
    let stop = false;
    const deadline = Date.now() + SNAPSHOT_WAIT_MS;
    const poll = async (): Promise<void> => {
      while (!stop) {
        if (pending.size) {
          const rows = await this.db.query<{ db: string | null; info: string | null }>(
            `SELECT DB AS db, INFO AS info FROM information_schema.PROCESSLIST
              WHERE ID > ? AND USER = ? AND INFO LIKE 'SELECT /*!40001 SQL\\_NO\\_CACHE */ %'`,
            [this.connectionId, this.user],
          );
          for (const t of [...pending]) {
            const needle = ` FROM ${quoteIdent(t.table.table)}`;
            if (rows.some((r) => r.db === t.table.database && r.info?.includes(needle))) pending.delete(t);
          }
        }
        if (!pending.size && mainDone) return;
        if (Date.now() > deadline) {
          const waiting = [...pending].map((t) => `${t.table.database}.${t.table.table}`);
          throw new OperationError(`the dumps did not open their snapshots within ${SNAPSHOT_WAIT_MS / 1000} s (still starting: ${[...waiting, ...(mainDone ? [] : ['the main dump'])].join(', ')}); no backup was recorded`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const polling = poll();
    polling.catch(() => undefined);
    try {
      await Promise.race([polling, failed]);
    } finally {
      stop = true;
    }
  }

  /** Let commits go on (idempotent); logs how long they were held. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      await this.db.exec('BACKUP STAGE END');
      log.info({ blockedMs: Date.now() - this.since }, 'commits blocked while the table dumps opened their snapshots');
    } finally {
      await this.db.close();
    }
  }

  /** Throws unless the main dump's recorded position is the one commits were blocked at. */
  checkSamePoint(main: Coordinates): void {
    const want = this.coordinates;
    if (want.binlogFile === undefined && main.binlogFile === undefined) return;
    if (want.binlogFile !== main.binlogFile || want.binlogPosition !== main.binlogPosition) {
      throw new OperationError(
        `the dumps are not one point in time: the main dump recorded ${main.binlogFile ?? '?'}:${main.binlogPosition ?? '?'} but commits were blocked at ${want.binlogFile ?? '?'}:${want.binlogPosition ?? '?'}; no backup was recorded — run it again`,
      );
    }
  }
}
