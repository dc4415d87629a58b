// Index usage: indexes nothing has read since the server started, indexes another index makes
// redundant, and tables read by scans that used no index.
//   Unused: performance_schema's table_io_waits_summary_by_index_usage (what sys.schema_unused_indexes
//   reads) when performance_schema is on. MariaDB 10.11 also counts index reads in
//   information_schema.INDEX_STATISTICS when userstat is on (since it was turned on or FLUSH
//   INDEX_STATISTICS), but shows only tables the account may SELECT from: so there, only those
//   tables are judged. Without either the server cannot tell, and the report says so.
//   Redundant: from the definitions alone (information_schema.STATISTICS), any server.
//   Full scans: performance_schema's row for "no index" (INDEX_NAME IS NULL) of each table.
import type { MysqlClient } from '../mysql/client.js';
import { MysqlQueryError } from '../mysql/client.js';
import type { FullScan, IndexFacts, IndexRef, RedundantIndex, Section, UnusedIndex } from './report-types.js';
import type { ServerFacts } from './server-facts.js';

export interface IndexDef extends IndexRef {
  unique: boolean;
  /** BTREE, HASH, FULLTEXT, SPATIAL… */
  type: string;
  /** Prefix lengths per column (null: the whole column). */
  subParts: Array<number | null>;
}

interface StatisticsRow {
  TABLE_SCHEMA: string;
  TABLE_NAME: string;
  INDEX_NAME: string;
  NON_UNIQUE: number | string;
  SEQ_IN_INDEX: number;
  COLUMN_NAME: string | null;
  SUB_PART: number | null;
  INDEX_TYPE: string;
}

export async function readIndexDefs(db: MysqlClient, databases: string[]): Promise<IndexDef[]> {
  if (databases.length === 0) return [];
  const rows = await db.query<StatisticsRow>(
    `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, INDEX_TYPE
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN (?)
      ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [databases],
  );
  return indexDefs(rows);
}

export function indexDefs(rows: StatisticsRow[]): IndexDef[] {
  const out = new Map<string, IndexDef>();
  for (const r of rows) {
    const key = `${r.TABLE_SCHEMA}.${r.TABLE_NAME}.${r.INDEX_NAME}`;
    let d = out.get(key);
    if (!d) {
      d = { schema: r.TABLE_SCHEMA, table: r.TABLE_NAME, index: r.INDEX_NAME, columns: [], subParts: [], unique: Number(r.NON_UNIQUE) === 0, type: r.INDEX_TYPE };
      out.set(key, d);
    }
    // An expression part (MySQL 8 functional index) has no column name.
    d.columns.push(r.COLUMN_NAME ?? '(expression)');
    d.subParts.push(r.SUB_PART === null || r.SUB_PART === undefined ? null : Number(r.SUB_PART));
  }
  return [...out.values()];
}

/** Whether every part of `a` is the same column as `b`'s at that position, and no longer a prefix of it. */
function leftPrefix(a: IndexDef, b: IndexDef): boolean {
  if (a.columns.length > b.columns.length) return false;
  return a.columns.every((c, i) => {
    if (c !== b.columns[i] || c === '(expression)') return false;
    const pa = a.subParts[i] ?? Infinity;
    const pb = b.subParts[i] ?? Infinity;
    return pa <= pb;
  });
}

function identical(a: IndexDef, b: IndexDef): boolean {
  return a.columns.length === b.columns.length && a.subParts.every((p, i) => p === b.subParts[i]);
}

/**
 * Indexes another index of the same table makes redundant (pt-duplicate-key-checker's rules):
 * the same columns (a duplicate), or the leftmost columns of a longer index of the same type.
 * PRIMARY is never the redundant one; a unique index is redundant only to one that is just as
 * unique on the same columns, since it also enforces a constraint.
 */
export function redundantIndexes(defs: IndexDef[]): RedundantIndex[] {
  const out: RedundantIndex[] = [];
  const byTable = new Map<string, IndexDef[]>();
  for (const d of defs) byTable.set(`${d.schema}.${d.table}`, [...(byTable.get(`${d.schema}.${d.table}`) ?? []), d]);
  for (const list of byTable.values()) {
    for (const a of list) {
      if (a.index === 'PRIMARY') continue;
      const covering = list.filter((b) => b !== a && b.type === a.type && leftPrefix(a, b));
      // Two identical indexes: report the one that sorts later, so exactly one of the pair is named.
      const by = covering.find((b) => {
        const same = identical(a, b);
        if (a.unique && !(same && b.unique)) return false;
        if (same && b.unique === a.unique && b.index !== 'PRIMARY') return b.index < a.index;
        return true;
      });
      if (!by) continue;
      out.push({ schema: a.schema, table: a.table, index: a.index, columns: a.columns, kind: identical(a, by) ? 'duplicate' : 'prefix', coveredBy: by.index, coveredByColumns: by.columns });
    }
  }
  return out;
}

interface UsageRow {
  OBJECT_SCHEMA: string;
  OBJECT_NAME: string;
  INDEX_NAME: string | null;
  COUNT_STAR: number | string;
  COUNT_FETCH: number | string;
}

/** Secondary indexes with no use in `used` (key schema.table.index); PRIMARY is never listed. */
export function unusedIndexes(defs: IndexDef[], used: Set<string>, judged: (d: IndexDef) => boolean = () => true): UnusedIndex[] {
  return defs
    .filter((d) => d.index !== 'PRIMARY' && judged(d) && !used.has(`${d.schema}.${d.table}.${d.index}`))
    .map((d) => ({ schema: d.schema, table: d.table, index: d.index, columns: d.columns, unique: d.unique }));
}

function uptimeText(f: ServerFacts): string {
  const s = Number(f.status.Uptime ?? 0);
  const days = s / 86_400;
  return days >= 1 ? `${days.toFixed(1)} days` : `${(s / 3600).toFixed(1)} hours`;
}

async function performanceSchemaUsage(db: MysqlClient, f: ServerFacts, defs: IndexDef[], databases: string[]): Promise<{ unused: IndexFacts['unused']; fullScans: IndexFacts['fullScans'] }> {
  const instrument = await db.query<{ ENABLED: string }>("SELECT ENABLED FROM performance_schema.setup_instruments WHERE NAME = 'wait/io/table/sql/handler'");
  if (instrument[0]?.ENABLED !== 'YES') {
    const reason = "performance_schema's table I/O instrument is off: UPDATE performance_schema.setup_instruments SET ENABLED = 'YES', TIMED = 'YES' WHERE NAME = 'wait/io/table/sql/handler'";
    return { unused: { available: false, reason }, fullScans: { available: false, reason } };
  }
  const rows = databases.length
    ? await db.query<UsageRow>('SELECT OBJECT_SCHEMA, OBJECT_NAME, INDEX_NAME, COUNT_STAR, COUNT_FETCH FROM performance_schema.table_io_waits_summary_by_index_usage WHERE OBJECT_SCHEMA IN (?)', [databases])
    : [];
  const used = new Set(rows.filter((r) => r.INDEX_NAME !== null && Number(r.COUNT_STAR) > 0).map((r) => `${r.OBJECT_SCHEMA}.${r.OBJECT_NAME}.${r.INDEX_NAME}`));
  const scans: FullScan[] = rows
    .filter((r) => r.INDEX_NAME === null && Number(r.COUNT_FETCH) > 0)
    .map((r) => ({ schema: r.OBJECT_SCHEMA, table: r.OBJECT_NAME, rowsRead: Number(r.COUNT_FETCH) }))
    .sort((a, b) => b.rowsRead - a.rowsRead)
    .slice(0, 20);
  return {
    unused: { available: true, source: 'performance_schema', since: `the server started (or the table was last altered): ${uptimeText(f)} of counting`, indexes: unusedIndexes(defs, used) },
    fullScans: { available: true, tables: scans },
  };
}

async function userstatUsage(db: MysqlClient, f: ServerFacts, defs: IndexDef[]): Promise<IndexFacts['unused']> {
  const rows = await db.query<{ TABLE_SCHEMA: string; TABLE_NAME: string; INDEX_NAME: string }>('SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME FROM information_schema.INDEX_STATISTICS');
  const used = new Set(rows.map((r) => `${r.TABLE_SCHEMA}.${r.TABLE_NAME}.${r.INDEX_NAME}`));
  // INDEX_STATISTICS hides tables the account cannot SELECT from: judge only the readable ones.
  const readable = new Set<string>();
  const skipped: string[] = [];
  for (const t of new Set(defs.map((d) => `${d.schema}\u0000${d.table}`))) {
    const [schema, table] = t.split('\u0000') as [string, string];
    try {
      await db.query(`SELECT 1 FROM \`${schema.replace(/`/g, '``')}\`.\`${table.replace(/`/g, '``')}\` LIMIT 0`);
      readable.add(t);
    } catch (err) {
      if (!(err instanceof MysqlQueryError)) throw err;
      skipped.push(`${schema}.${table}`);
    }
  }
  const note = skipped.length ? `; ${skipped.length} table(s) not judged, the account cannot SELECT from them (INDEX_STATISTICS hides those)` : '';
  return {
    available: true,
    source: 'userstat',
    since: `userstat was turned on or FLUSH INDEX_STATISTICS ran (the server has been up ${uptimeText(f)})${note}`,
    indexes: unusedIndexes(defs, used, (d) => readable.has(`${d.schema}\u0000${d.table}`)),
  };
}

export async function collectIndexFacts(db: MysqlClient, f: ServerFacts, databases: string[]): Promise<IndexFacts> {
  const defs = await readIndexDefs(db, databases);
  const redundant = redundantIndexes(defs);
  if (f.performanceSchema) return { ...(await performanceSchemaUsage(db, f, defs, databases)), redundant };
  const fullScans: Section<{ tables: FullScan[] }> = { available: false, reason: 'needs performance_schema (off on this server)' };
  if (f.userstat) return { unused: await userstatUsage(db, f, defs), redundant, fullScans };
  return {
    unused: {
      available: false,
      reason: `the server does not count index reads: performance_schema is off${f.info.flavor === 'mariadb' ? " (MariaDB's default) and userstat is off: SET GLOBAL userstat=1 starts counting now (information_schema.INDEX_STATISTICS), or set performance_schema=ON in the configuration (a restart)" : ': set performance_schema=ON in the configuration (a restart)'}`,
    },
    redundant,
    fullScans,
  };
}
