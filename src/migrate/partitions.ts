// Daily RANGE COLUMNS partitions of pageviews/events: list them and add days ahead of time.
// Shared by the seed (partitions for the days it writes) and partition maintenance (days ahead);
// retention reads the list to find old partitions to archive and drop.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { UsageError } from '../errors.js';

/** Tables partitioned by day in db/migrations. */
export const DATE_PARTITIONED_TABLES = ['pageviews', 'events'] as const;

export interface DatePartition {
  name: string;
  /** The day this partition is named after, 'YYYY-MM-DD'; null for pmax or foreign names. */
  day: string | null;
  /** Upper bound, exclusive, 'YYYY-MM-DD'; null for MAXVALUE. */
  lessThan: string | null;
  /** Estimated rows (information_schema statistics, may lag). */
  rows: number;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

function parseDay(day: string): number {
  if (!DAY_RE.test(day)) throw new UsageError(`invalid date ${day}; use YYYY-MM-DD`);
  const t = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== day) {
    throw new UsageError(`invalid date ${day}; use YYYY-MM-DD`);
  }
  return t;
}

export function addDays(day: string, n: number): string {
  return new Date(parseDay(day) + n * 86_400_000).toISOString().slice(0, 10);
}

/** 'p20261127' for '2026-11-27'. */
export function datePartitionName(day: string): string {
  parseDay(day);
  return `p${day.replaceAll('-', '')}`;
}

function escapeId(id: string): string {
  return `\`${id.replaceAll('`', '``')}\``;
}

export async function listDatePartitions(conn: Connection, table: string): Promise<DatePartition[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT PARTITION_NAME AS name, PARTITION_DESCRIPTION AS descr, TABLE_ROWS AS nrows
       FROM information_schema.PARTITIONS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL
      ORDER BY PARTITION_ORDINAL_POSITION`,
    [table],
  );
  if (rows.length === 0) {
    throw new UsageError(`table ${table} does not exist or is not partitioned; run \`dbops migrate up\` first`);
  }
  return rows.map((r) => {
    const name = String(r.name);
    const m = /^p(\d{4})(\d{2})(\d{2})$/.exec(name);
    const descr = String(r.descr ?? '');
    const bound = /(\d{4}-\d{2}-\d{2})/.exec(descr);
    return {
      name,
      day: m ? `${m[1]}-${m[2]}-${m[3]}` : null,
      lessThan: descr === 'MAXVALUE' || !bound ? null : bound[1]!,
      rows: Number(r.nrows ?? 0),
    };
  });
}

/** The exclusive upper bound of the highest bounded partition: the first day no daily partition covers. */
function firstUncoveredDay(parts: DatePartition[]): string | null {
  return parts.reduce<string | null>((m, p) => (p.lessThan && (!m || p.lessThan > m) ? p.lessThan : m), null);
}

/**
 * Days that need a partition of their own so that every day up to `through` has one. They start at
 * `from`, or earlier, at the first uncovered day, when maintenance did not run for a while: one
 * partition per day of that gap too, so that each expires on its own day. (A single catch-up
 * partition would span the gap under the name of its last day and keep the gap's first rows that
 * many days past their retention.)
 */
export function partitionDaysToAdd(parts: DatePartition[], from: string, through: string): string[] {
  const uncovered = firstUncoveredDay(parts);
  const start = uncovered && uncovered < from ? uncovered : from;
  const days: string[] = [];
  for (let day = start; day <= through; day = addDays(day, 1)) if (!uncovered || day >= uncovered) days.push(day);
  return days;
}

/**
 * Makes sure `table` has a daily partition for every day in [from, to] (inclusive, 'YYYY-MM-DD'),
 * and for every day of a gap between the highest existing partition and `from`. Days already covered
 * by an existing bounded partition are left alone; new days are split off the `pmax` catch-all
 * (instant while pmax is empty) or appended when there is no pmax. On a table without daily
 * partitions the first new one also holds any older rows, as RANGE partitioning implies. Returns
 * the names added.
 */
export async function ensureDatePartitions(
  conn: Connection,
  table: string,
  from: string,
  to: string,
): Promise<string[]> {
  if (parseDay(from) > parseDay(to)) throw new UsageError(`partition range ${from}..${to} is empty; from must not be after to`);
  const parts = await listDatePartitions(conn, table);
  const hasMax = parts.some((p) => p.lessThan === null);
  const days = partitionDaysToAdd(parts, from, to);
  if (days.length === 0) return [];
  const names = days.map(datePartitionName);
  const defs = days.map((day, i) => `PARTITION ${names[i]} VALUES LESS THAN ('${addDays(day, 1)}')`);
  const t = escapeId(table);
  if (hasMax) {
    const pmax = parts.find((p) => p.lessThan === null)!.name;
    await conn.query(
      `ALTER TABLE ${t} REORGANIZE PARTITION ${escapeId(pmax)} INTO (${defs.join(', ')}, PARTITION ${escapeId(pmax)} VALUES LESS THAN (MAXVALUE))`,
    );
  } else {
    await conn.query(`ALTER TABLE ${t} ADD PARTITION (${defs.join(', ')})`);
  }
  return names;
}
