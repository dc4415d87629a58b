// Storage as information_schema reports it: data, index and free bytes and estimated rows per
// table and per partition, and for tables with daily partitions (pYYYYMMDD, the horizn_ pageviews
// and events) how many days ahead they are ready and what sits in the catch-all partition.
// Numbers are the engine's statistics: InnoDB's rows are estimates kept up to date on every
// insert; MySQL 8 caches them for information_schema_stats_expiry (a day by default), so the
// session turns that cache off.
import type { MysqlClient } from '../mysql/client.js';
import { MysqlQueryError } from '../mysql/client.js';
import type { DatePartitionedTable, PartitionSize, TableSize } from './report-types.js';

interface TableRow {
  TABLE_SCHEMA: string;
  TABLE_NAME: string;
  ENGINE: string | null;
  TABLE_ROWS: number | string | null;
  DATA_LENGTH: number | string | null;
  INDEX_LENGTH: number | string | null;
  DATA_FREE: number | string | null;
}

export interface PartitionRow {
  TABLE_SCHEMA: string;
  TABLE_NAME: string;
  PARTITION_NAME: string;
  PARTITION_DESCRIPTION: string | null;
  TABLE_ROWS: number | string | null;
  DATA_LENGTH: number | string | null;
  INDEX_LENGTH: number | string | null;
}

const n = (v: number | string | null | undefined): number => Number(v ?? 0) || 0;

export interface Sizes {
  tables: TableSize[];
  partitions: PartitionSize[];
}

export async function readSizes(db: MysqlClient, databases: string[]): Promise<Sizes> {
  if (databases.length === 0) return { tables: [], partitions: [] };
  try {
    await db.exec('SET SESSION information_schema_stats_expiry = 0');
  } catch (err) {
    // MariaDB has no such cache (and no such variable).
    if (!(err instanceof MysqlQueryError)) throw err;
  }
  const tables = await db.query<TableRow>(
    `SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, DATA_FREE
       FROM information_schema.TABLES
      WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [databases],
  );
  const parts = await db.query<PartitionRow>(
    `SELECT TABLE_SCHEMA, TABLE_NAME, PARTITION_NAME, PARTITION_DESCRIPTION, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH
       FROM information_schema.PARTITIONS
      WHERE TABLE_SCHEMA IN (?) AND PARTITION_NAME IS NOT NULL AND SUBPARTITION_NAME IS NULL
      ORDER BY TABLE_SCHEMA, TABLE_NAME, PARTITION_ORDINAL_POSITION`,
    [databases],
  );
  const partitions = parts.map((p) => ({ schema: p.TABLE_SCHEMA, table: p.TABLE_NAME, partition: p.PARTITION_NAME, bound: p.PARTITION_DESCRIPTION, rows: n(p.TABLE_ROWS), dataBytes: n(p.DATA_LENGTH), indexBytes: n(p.INDEX_LENGTH) }));
  const count = new Map<string, number>();
  for (const p of partitions) count.set(`${p.schema}.${p.table}`, (count.get(`${p.schema}.${p.table}`) ?? 0) + 1);
  return {
    tables: tables.map((t) => ({
      schema: t.TABLE_SCHEMA,
      table: t.TABLE_NAME,
      engine: t.ENGINE,
      rows: n(t.TABLE_ROWS),
      dataBytes: n(t.DATA_LENGTH),
      indexBytes: n(t.INDEX_LENGTH),
      freeBytes: n(t.DATA_FREE),
      partitions: count.get(`${t.TABLE_SCHEMA}.${t.TABLE_NAME}`) ?? 0,
    })),
    partitions,
  };
}

const DAY_MS = 86_400_000;
const dayNumber = (day: string): number => Date.parse(`${day}T00:00:00Z`) / DAY_MS;

/**
 * Tables with daily partitions named pYYYYMMDD: the last day they cover (the highest
 * VALUES LESS THAN bound, less one day), how far past `today` that is, and their catch-all
 * (MAXVALUE) partition, where rows land once the daily ones run out.
 */
export function datePartitionedTables(partitions: PartitionSize[], today: string): DatePartitionedTable[] {
  const byTable = new Map<string, PartitionSize[]>();
  for (const p of partitions) byTable.set(`${p.schema}\u0000${p.table}`, [...(byTable.get(`${p.schema}\u0000${p.table}`) ?? []), p]);
  const out: DatePartitionedTable[] = [];
  for (const list of byTable.values()) {
    const daily = list.filter((p) => /^p\d{8}$/.test(p.partition));
    if (daily.length === 0) continue;
    const bounds = daily.map((p) => /(\d{4}-\d{2}-\d{2})/.exec(p.bound ?? '')?.[1]).filter((b): b is string => b !== undefined);
    const highest = bounds.sort().at(-1);
    const coveredThrough = highest ? new Date((dayNumber(highest) - 1) * DAY_MS).toISOString().slice(0, 10) : null;
    const max = list.find((p) => (p.bound ?? '').toUpperCase() === 'MAXVALUE');
    out.push({
      schema: list[0]!.schema,
      table: list[0]!.table,
      dailyPartitions: daily.length,
      coveredThrough,
      daysAhead: coveredThrough ? Math.round(dayNumber(coveredThrough) - dayNumber(today)) : null,
      catchAll: max ? { partition: max.partition, rows: max.rows, dataBytes: max.dataBytes, indexBytes: max.indexBytes } : null,
    });
  }
  return out;
}
