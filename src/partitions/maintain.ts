// Partition maintenance of the date-partitioned tables: daily partitions created ahead of time (so
// inserts never land in pmax), and partitions past their retention archived, verified and only then
// dropped. `planMaintenance` only reads; `applyMaintenance` carries a plan out, oldest first, and
// stops at the first failure — a partition whose archive did not verify is never dropped.
import type { Connection } from 'mysql2/promise';
import { addDays, datePartitionName, ensureDatePartitions, listDatePartitions } from '../migrate/partitions.js';
import { OperationError } from '../errors.js';
import { log } from '../util/logger.js';
import { archivePartition, countPartitionRows, type ArchiveKeys, type ArchiveTarget, type PartitionRange } from './archive-partition.js';

export interface TablePolicy {
  table: string;
  retentionDays: number;
}

export interface TablePlan {
  table: string;
  retentionDays: number;
  /** Rows with day < cutoff are past retention. */
  cutoff: string;
  /** Partitions to add, through today + aheadDays. */
  create: string[];
  createThrough: string;
  /** Partitions whose whole range is before the cutoff, oldest first (rows: estimate). */
  expire: (PartitionRange & { estimatedRows: number })[];
}

export interface MaintenancePlan {
  database: string;
  today: string;
  aheadDays: number;
  tables: TablePlan[];
}

export async function planMaintenance(conn: Connection, database: string, today: string, aheadDays: number, policies: TablePolicy[]): Promise<MaintenancePlan> {
  const tables: TablePlan[] = [];
  const through = addDays(today, aheadDays);
  for (const p of policies) {
    const parts = await listDatePartitions(conn, p.table);
    const highest = parts.reduce<string | null>((m, x) => (x.lessThan && (!m || x.lessThan > m) ? x.lessThan : m), null);
    const create: string[] = [];
    for (let day = today; day <= through; day = addDays(day, 1)) {
      if (!highest || addDays(day, 1) > highest) create.push(datePartitionName(day));
    }
    const cutoff = addDays(today, -p.retentionDays);
    const expire: TablePlan['expire'] = [];
    let from: string | null = null;
    for (const x of parts) {
      if (x.lessThan === null) break;
      // Never the last bounded partition of a table without pmax: a partitioned table needs one.
      if (x.lessThan <= cutoff && !(parts.length === 1)) expire.push({ table: p.table, partition: x.name, from, to: x.lessThan, estimatedRows: x.rows });
      from = x.lessThan;
    }
    tables.push({ table: p.table, retentionDays: p.retentionDays, cutoff, create, createThrough: through, expire });
  }
  return { database, today, aheadDays, tables };
}

export interface MaintenanceResult {
  table: string;
  created: string[];
  archived: { partition: string; rows: number; key: string; storedBytes: number; reused: boolean }[];
  dropped: string[];
}

export async function applyMaintenance(plan: MaintenancePlan, target: ArchiveTarget, keys: ArchiveKeys | undefined): Promise<MaintenanceResult[]> {
  const results: MaintenanceResult[] = [];
  for (const t of plan.tables) {
    const created = t.create.length ? await ensureDatePartitions(target.conn, t.table, plan.today, t.createThrough) : [];
    results.push({ table: t.table, created, archived: [], dropped: [] });
  }
  for (const t of plan.tables) {
    const result = results.find((r) => r.table === t.table)!;
    for (const range of t.expire) {
      if (!keys) throw new OperationError('expired partitions are archived before they are dropped, but no repository is configured');
      const { manifest, reused } = await archivePartition(target, keys, range);
      result.archived.push({ partition: range.partition, rows: manifest.rows, key: manifest.part.key, storedBytes: manifest.part.storedBytes, reused });
      // Rows that arrived after the archive was taken would be lost by the drop: refuse instead.
      const now = await countPartitionRows(target.conn, range.table, range.partition);
      if (now !== manifest.rows) {
        throw new OperationError(
          `${target.database}.${range.table} partition ${range.partition} now holds ${now} rows but its archive has ${manifest.rows}; not dropped — run maintenance again to re-archive it`,
        );
      }
      await target.conn.query(`ALTER TABLE \`${range.table}\` DROP PARTITION \`${range.partition}\``);
      result.dropped.push(range.partition);
      log.info({ table: range.table, partition: range.partition, rows: manifest.rows, key: manifest.part.key }, 'partition archived, verified and dropped');
    }
  }
  return results;
}
