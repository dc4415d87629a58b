// The seed loads the raw tables without their secondary indexes and builds them once at the
// end (a sorted build instead of one random B-tree insert per row). Measured: at 1 GB with a
// small buffer pool the per-row inserts into sessions_user_hash (random hashes) made the load
// disk-bound and fall to ~4 MB/s. What is dropped is first written to `settings`, so a seed
// killed before the end (SIGKILL, power loss) is repaired by the next seed run.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { log } from '../util/logger.js';
import { quoteIdent } from '../verify/quote-ident.js';

/** The settings row that records indexes dropped by a seed still in progress. */
export const DEFERRED_INDEXES_SETTING = 'dbops.seed.deferred_indexes';

/** Per table, the `KEY ...` clauses (as SHOW CREATE TABLE prints them) to add back. */
export type DeferredIndexes = Record<string, string[]>;

const KEY_LINE = /^\s*(?:UNIQUE )?KEY (`(?:[^`]|``)+`) \(.*\)(?: USING BTREE)?(?: COMMENT '.*')?,?$/;

/** The index name of a `KEY \`name\` (...)` clause, unquoted. */
function keyName(clause: string): string {
  return /KEY `((?:[^`]|``)+)`/.exec(clause)![1]!.replace(/``/g, '`');
}

/**
 * Secondary indexes of `table` that can be dropped for the load and re-added with the same
 * definition and in the same place: B-tree keys that no foreign key needs, after the last index
 * that must stay (so SHOW CREATE TABLE lists them in the same order). Unique ones too (sessions'
 * random 16-byte id): the seed's rows are unique by construction, the load runs with
 * unique_checks off anyway, and adding the index back checks uniqueness once, with a sorted build.
 */
async function droppableKeys(conn: Connection, table: string): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>(`SHOW CREATE TABLE ${quoteIdent(table)}`);
  const ddl = String(rows[0]?.['Create Table'] ?? '');
  const [fkRows] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL`,
    [table],
  );
  const fkColumns = new Set(fkRows.map((r) => String(r.c)));
  const keys: Array<{ clause: string; keep: boolean }> = [];
  for (const line of ddl.split('\n')) {
    const trimmed = line.trim();
    if (!/^(UNIQUE |FULLTEXT |SPATIAL )?KEY /.test(trimmed)) continue;
    const m = KEY_LINE.exec(line);
    const firstColumn = /\(`((?:[^`]|``)+)`/.exec(trimmed)?.[1]?.replace(/``/g, '`');
    // A foreign key needs an index that starts with its column: that one stays.
    const keep = !m || (firstColumn !== undefined && fkColumns.has(firstColumn));
    keys.push({ clause: trimmed.replace(/,$/, ''), keep });
  }
  const lastKept = keys.map((k) => k.keep).lastIndexOf(true);
  return keys.slice(lastKept + 1).map((k) => k.clause);
}

/** Records, then drops, the droppable secondary indexes of `tables` (which must be empty). */
export async function dropSecondaryIndexes(conn: Connection, tables: readonly string[]): Promise<DeferredIndexes> {
  const deferred: DeferredIndexes = {};
  for (const t of tables) {
    const keys = await droppableKeys(conn, t);
    if (keys.length) deferred[t] = keys;
  }
  if (Object.keys(deferred).length === 0) return deferred;
  // Written before anything is dropped: the record is what makes a killed seed repairable.
  await conn.query('REPLACE INTO settings (name, value) VALUES (?, ?)', [DEFERRED_INDEXES_SETTING, JSON.stringify(deferred)]);
  for (const [t, clauses] of Object.entries(deferred)) {
    await conn.query(`ALTER TABLE ${quoteIdent(t)} ${clauses.map((c) => `DROP INDEX ${quoteIdent(keyName(c))}`).join(', ')}`);
  }
  return deferred;
}

/** Adds back every recorded index that is missing (one ALTER per table), then removes the record.
 *  With several connections the tables build at once, one per connection: a sorted index build
 *  is single-threaded in the server, and the three raw tables' builds took 1.3 s one after another at 100 MB. */
export async function restoreSecondaryIndexes(pool: readonly Connection[], deferred: DeferredIndexes): Promise<void> {
  const queue = Object.entries(deferred);
  const build = async (conn: Connection): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [t, clauses] = next;
      const [existing] = await conn.query<RowDataPacket[]>(
        'SELECT DISTINCT INDEX_NAME AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        [t],
      );
      const have = new Set(existing.map((r) => String(r.n)));
      const missing = clauses.filter((c) => !have.has(keyName(c)));
      if (missing.length) await conn.query(`ALTER TABLE ${quoteIdent(t)} ${missing.map((c) => `ADD ${c}`).join(', ')}`);
    }
  };
  // Every build runs to its end before the record goes, so a failed one is repaired next run.
  const results = await Promise.allSettled(pool.map(build));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await pool[0]!.query('DELETE FROM settings WHERE name = ?', [DEFERRED_INDEXES_SETTING]);
}

/** A record left by a seed that never finished: its indexes are added back before anything else. */
export async function repairInterruptedSeed(conn: Connection): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT value FROM settings WHERE name = ?', [DEFERRED_INDEXES_SETTING]);
  if (rows.length === 0) return false;
  const raw = rows[0]!.value as unknown;
  const deferred = (typeof raw === 'string' ? JSON.parse(raw) : raw) as DeferredIndexes;
  log.warn({ tables: Object.keys(deferred) }, 'an earlier seed stopped before rebuilding its secondary indexes; adding them back first');
  await restoreSecondaryIndexes([conn], deferred);
  return true;
}
